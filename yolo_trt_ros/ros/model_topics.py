"""EngineInfo and LabelInfo on latched (transient local) topics: a late subscriber still gets them.

~/engine_info after each configure and engine swap; LabelInfo on ~/label_info and, with several
cameras, beside each camera's detections (yolo_trt_ros.ros.model_facts.label_topics), again
whenever the confidence threshold changes. The topics exist from the first publish to a release.
"""

from __future__ import annotations

from collections.abc import Sequence

from rclpy.node import Node
from rclpy.publisher import Publisher
from vision_msgs.msg import LabelInfo

from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros.model_facts import label_topics
from yolo_trt_ros.ros.qos import LATCHED

__all__ = ["ModelTopics"]


class ModelTopics:
    """The node's latched EngineInfo and LabelInfo publishers."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._engine: Publisher | None = None
        self._labels: list[Publisher] = []  # ~/label_info, and beside each camera's

    def publish(self, info: EngineInfo, labels: LabelInfo, cameras: Sequence[str]) -> None:
        """Publish EngineInfo and LabelInfo; the first time after a release, create the topics."""
        if self._engine is None:
            self._engine = self._node.create_publisher(EngineInfo, "~/engine_info", LATCHED)
            self._labels = [
                self._node.create_publisher(LabelInfo, topic, LATCHED)
                for topic in label_topics(cameras)
            ]
        self._engine.publish(info)
        self.publish_labels(labels)

    def publish_labels(self, labels: LabelInfo) -> None:
        """Publish LabelInfo again (a new threshold) on every label topic, if created."""
        for publisher in self._labels:
            publisher.publish(labels)

    def destroy(self) -> None:
        """Remove the topics (release)."""
        for publisher in [self._engine, *self._labels]:
            if publisher is not None:
                self._node.destroy_publisher(publisher)
        self._engine, self._labels = None, []
