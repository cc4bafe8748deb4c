"""Publish recorded camera frames as they are: serialized bytes, optionally restamped.

The bag already holds each message in the form DDS carries (CDR), so the player hands those
bytes to rclpy (``Publisher.publish(bytes)``) instead of decoding and re-encoding megabytes of
pixels per frame. Fresh stamps rewrite only the header's eight stamp bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from yolo_trt_ros.replay.bag import BagFrame, ImageTopic

__all__ = ["BagPlayer"]

_MESSAGE_CLASSES = {"raw": Image, "compressed": CompressedImage}


class BagPlayer:
    """One publisher per replayed topic (after remapping), publishing serialized frames."""

    def __init__(
        self,
        node: Node,
        topics: Sequence[ImageTopic],
        remap: Mapping[str, str],
        reliability: ReliabilityPolicy,
        depth: int = 10,
    ) -> None:
        self.node = node
        self.reliability = reliability
        qos = QoSProfile(depth=depth, reliability=reliability)
        # where each bag topic goes, as a fully qualified name (the probe matches answers by it)
        self.targets = {
            topic.name: node.resolve_topic_name(remap.get(topic.name, topic.name))
            for topic in topics
        }
        self.publishers: dict[str, Publisher] = {
            topic.name: node.create_publisher(
                _MESSAGE_CLASSES[topic.kind], self.targets[topic.name], qos
            )
            for topic in topics
        }

    def subscribed(self) -> bool:
        """Whether every replayed topic has a subscriber (the detector, once it is active)."""
        return all(p.get_subscription_count() > 0 for p in self.publishers.values())

    def reliability_mismatches(self) -> list[str]:
        """Topics where a subscriber is BEST_EFFORT while the player publishes RELIABLE."""
        if self.reliability != ReliabilityPolicy.RELIABLE:
            return []
        return [
            target
            for target in self.targets.values()
            if any(
                info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                for info in self.node.get_subscriptions_info_by_topic(target)
            )
        ]

    def publish(self, frame: BagFrame, cdr: bytes) -> None:
        """Publish one frame's serialized message on its (remapped) topic."""
        self.publishers[frame.topic].publish(cdr)
