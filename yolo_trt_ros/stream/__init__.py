"""Frame flow without ROS: the newest-frame mailbox and per-camera statistics."""

from yolo_trt_ros.stream.mailbox import NewestFrameMailbox
from yolo_trt_ros.stream.stats import StatsSnapshot, StreamStats

__all__ = ["NewestFrameMailbox", "StatsSnapshot", "StreamStats"]
