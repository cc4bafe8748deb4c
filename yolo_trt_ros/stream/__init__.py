"""Frame flow without ROS: the newest-frame mailbox, the rate cap and per-camera statistics."""

from yolo_trt_ros.stream.mailbox import NewestFrameMailbox
from yolo_trt_ros.stream.rate_cap import RateCap
from yolo_trt_ros.stream.stats import StatsSnapshot, StreamStats

__all__ = ["NewestFrameMailbox", "RateCap", "StatsSnapshot", "StreamStats"]
