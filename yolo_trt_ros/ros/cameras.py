"""The detector node's cameras: one record per watched camera, its subscription, and a frame's arrival.

A subscription's reliability is chosen to match the topic's publishers (yolo_trt_ros.ros.qos) and
re-chosen when publishers appear that it does not match. An arriving frame is checked
(yolo_trt_ros.ros.frame_check), rate capped (yolo_trt_ros.stream.rate_cap) and put in its camera's
slot of the newest-frame mailbox; every frame lands in exactly one counter (StreamStats).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rclpy.lifecycle import LifecycleNode
from rclpy.qos import ReliabilityPolicy
from rclpy.subscription import Subscription
from rclpy.timer import Timer
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.image_headers import EncodedImage
from yolo_trt_ros.log_throttle import KindThrottle
from yolo_trt_ros.msg import InferenceTiming
from yolo_trt_ros.ros.compat import (
    create_subscription_counting_losses,
    publisher_count,
    with_message_info,
)
from yolo_trt_ros.ros.frame_check import ArrivedFrame, judge_on_arrival
from yolo_trt_ros.ros.qos import RECHECK_S, RECHECK_WAITING_S, choose_reliability, image_qos
from yolo_trt_ros.ros.transport import TransportMonitor
from yolo_trt_ros.settings import DetectorConfig, camera_names_for
from yolo_trt_ros.stream import NewestFrameMailbox, RateCap, StreamStats

__all__ = [
    "Camera",
    "CameraSubscriber",
    "CameraWatch",
    "Frame",
    "Output",
    "arrive",
    "create_cameras",
    "summary",
    "unsubscribe",
]

ImageCallback = Callable[
    ["Camera", Image | CompressedImage | bytes, Mapping[str, Any] | None], None
]


class Output(Protocol):
    """Where a camera's messages go: a (lifecycle) publisher."""

    @property
    def topic_name(self) -> str:
        """The resolved topic."""

    def publish(self, msg: Any) -> None:
        """Send one message."""

    def get_subscription_count(self) -> int:
        """Return how many subscriptions listen."""


@dataclass
class Frame:
    """An image message waiting for the model, with when it arrived."""

    msg: ArrivedFrame  # checked on arrival; serialized (raw subscription) frames already parsed
    receive_ns: int
    receive_monotonic: float
    header: EncodedImage | None = None  # what a compressed frame's header declared on arrival


@dataclass
class Camera:
    """One watched camera: its topic, its outputs and its statistics."""

    name: str
    topic: str
    input_type: str
    detections: Output
    timing: Output
    annotated: Output | None
    rate_cap: RateCap
    stats: StreamStats = field(default_factory=StreamStats)
    subscription: Subscription | None = None
    reliability: ReliabilityPolicy | None = None
    qos_note: str = ""
    drops_seen: int = 0  # frames replaced in the mailbox; written by the executor thread only
    drops_reported: int = 0  # drops_seen at the previous detected frame; inference thread only
    transport: TransportMonitor | None = None
    logger: Any = None  # this camera's own logger: its warnings are throttled apart from others'
    warnings: KindThrottle = field(default_factory=KindThrottle)  # and per kind of problem

    def warn(self, kind: str, text: str) -> None:
        """Log one warning about this camera, throttled per kind (5 s), counting those held back."""
        line = self.warnings.message(kind, f"{self.name}: {text}")
        if line is not None:
            self.logger.warn(line)


def create_cameras(
    config: DetectorConfig,
    resolve_topic: Callable[[str], str],
    create_output: Callable[[Any, str, int], Output],
    logger: Any,
) -> dict[str, Camera]:
    """One camera per configured topic, with its outputs (``create_output(type, topic, depth)``).

    One camera publishes on ~/detections, ~/timing, ~/annotated; several on ~/<camera>/....
    """
    # Cameras keep their resolved topics (/front/image, not image), for logs and diagnostics.
    # One camera's name is in logs and diagnostics only, so it may come from the namespace.
    topics = [resolve_topic(topic) for topic in config.image_topics]
    single = len(topics) == 1
    names = list(config.camera_names) or camera_names_for(topics if single else config.image_topics)
    cameras = {}
    for index, (name, topic) in enumerate(zip(names, topics, strict=True)):
        prefix = "~" if single else f"~/{name}"
        cameras[name] = Camera(
            name=name,
            topic=topic,
            input_type=config.input_type_of(index),
            detections=create_output(Detection2DArray, f"{prefix}/detections", 10),
            timing=create_output(InferenceTiming, f"{prefix}/timing", 10),
            annotated=create_output(Image, f"{prefix}/annotated", 1)
            if config.publish_annotated
            else None,
            rate_cap=RateCap(config.max_rate_hz),
            logger=logger.get_child(name),
        )
    return cameras


def arrive(
    camera: Camera,
    msg: Image | CompressedImage | bytes,
    info: Mapping[str, Any] | None,
    mailbox: NewestFrameMailbox[Frame],
    *,
    max_pixels: int,
    now_ns: Callable[[], int],
) -> None:
    """Take one frame as it arrives: count it, check it, cap the rate, put it in the mailbox."""
    # Every frame lands in exactly one counter (StreamStats): refused, skipped or in flight.
    if camera.transport is not None:
        camera.transport.observe(len(msg) if isinstance(msg, bytes) else len(msg.data))
        camera.stats.missed(camera.transport.missed_before(info))
    try:  # before the mailbox: a bad frame must not replace a good one waiting there
        checked, header = judge_on_arrival(
            msg, compressed=camera.input_type == "compressed", max_pixels=max_pixels
        )
    except InvalidImageError as error:
        camera.stats.refused(str(error))
        camera.warn(error.kind, f"dropped a frame from {camera.topic}: {error}")
        return
    arrived = time.monotonic()
    if not camera.rate_cap.admit(arrived):
        camera.stats.skipped()
        return
    camera.stats.received()
    frame = Frame(checked, now_ns(), arrived, header)
    if mailbox.put(camera.name, frame):
        camera.stats.dropped()
        camera.drops_seen += 1


class CameraSubscriber:
    """Subscribes a node to its cameras with the QoS their publishers need, and keeps it matching."""

    def __init__(
        self,
        node: LifecycleNode,
        on_image: ImageCallback,
        *,
        reliability: str,
        depth: int,
        serialized: bool,
    ) -> None:
        self._node = node
        self._on_image = on_image
        self._reliability = reliability  # the qos_reliability setting: auto, reliable, best_effort
        self._depth = depth
        self._serialized = serialized

    def subscribe(self, camera: Camera) -> None:
        """Subscribe to one camera, with the reliability its publishers (or the setting) ask for."""
        node = self._node
        publishers = [
            info.qos_profile.reliability
            for info in node.get_publishers_info_by_topic(node.resolve_topic_name(camera.topic))
        ]
        reliability, why = choose_reliability(self._reliability, publishers)
        message_type = CompressedImage if camera.input_type == "compressed" else Image
        camera.transport = TransportMonitor(reliability == ReliabilityPolicy.BEST_EFFORT)
        camera.subscription, camera.transport.losses_unreported = (
            create_subscription_counting_losses(
                node,
                message_type,
                camera.topic,
                with_message_info(functools.partial(self._on_image, camera)),
                image_qos(reliability, self._depth),
                on_message_lost=camera.transport.on_message_lost,
                raw=self._serialized,
            )
        )
        camera.transport.publishers = functools.partial(publisher_count, node, camera.subscription)
        camera.reliability, camera.qos_note = reliability, why
        node.get_logger().info(
            f"{camera.name}: subscribed to {camera.subscription.topic_name} ({message_type.__name__}), QoS {why}"
        )
        if camera.transport.losses_unreported:
            node.get_logger().warn(
                f"{camera.name}: frames lost in transport are not counted: "
                f"{camera.transport.losses_unreported}"
            )

    def recheck(self, cameras: Iterable[Camera]) -> bool:
        """Re-subscribe where publishers appeared that the subscription does not match.

        Returns whether a topic has no publisher yet (then the caller checks again soon).
        """
        waiting = False
        for camera in cameras:
            if camera.subscription is None:
                continue
            found = [
                info.qos_profile.reliability
                for info in self._node.get_publishers_info_by_topic(camera.subscription.topic_name)
            ]
            waiting = waiting or not found
            wanted, _ = choose_reliability("auto", found)
            if found and wanted != camera.reliability:
                self._node.destroy_subscription(camera.subscription)
                self.subscribe(camera)
        return waiting


class CameraWatch:
    """Watches a node's cameras while it is active: subscribes them all, keeps QoS matching, ends it.

    With ``qos_reliability`` auto, a timer re-checks the topics' publishers: every
    ``qos.RECHECK_WAITING_S`` while a topic has none (a camera started after the node is matched
    soon), every ``qos.RECHECK_S`` once each has one.
    """

    def __init__(self, node: LifecycleNode, cameras: Mapping[str, Camera]) -> None:
        self._node = node
        self._cameras = cameras  # the node's own dict: filled on configure, cleared on cleanup
        self._subscriber: CameraSubscriber | None = None
        self.timer: Timer | None = None  # the QoS re-check, while active with auto reliability

    def start(self, config: DetectorConfig, on_image: ImageCallback) -> None:
        """Subscribe to every camera as ``config`` says; start the re-check when it is auto."""
        self._subscriber = CameraSubscriber(
            self._node,
            on_image,
            reliability=config.qos_reliability,
            depth=config.qos_depth,
            serialized=config.serialized_images,
        )
        for camera in self._cameras.values():
            self._subscriber.subscribe(camera)
        if config.qos_reliability == "auto":
            self.timer = self._node.create_timer(RECHECK_WAITING_S, self._recheck)

    def stop(self) -> None:
        """End the re-check and every camera's subscription."""
        if self.timer is not None:
            self._node.destroy_timer(self.timer)
            self.timer = None
        for camera in self._cameras.values():
            unsubscribe(self._node, camera)

    def _recheck(self) -> None:
        """Re-subscribe when publishers appear whose reliability the subscription does not match."""
        # a topic without publishers: check again soon (qos.RECHECK_WAITING_S)
        waiting = self._subscriber is not None and self._subscriber.recheck(self._cameras.values())
        period_ns = int((RECHECK_WAITING_S if waiting else RECHECK_S) * 1e9)
        if self.timer is not None and self.timer.timer_period_ns != period_ns:
            self.timer.timer_period_ns = period_ns


def summary(facts: Mapping[str, object], cameras: Iterable[Camera]) -> str:
    """One line for the log once configured: backend, device, and each camera's way through."""
    watched = ", ".join(f"{c.topic} ({c.input_type}) -> {c.detections.topic_name}" for c in cameras)
    return f"{facts.get('backend')} on {facts.get('device')}; {watched}"


def unsubscribe(node: LifecycleNode, camera: Camera) -> None:
    """End one camera's subscription, if any."""
    if camera.subscription is not None:
        node.destroy_subscription(camera.subscription)
        camera.subscription = None
