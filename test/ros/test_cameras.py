"""A frame's arrival at a camera (yolo_trt_ros.ros.cameras), in-process without DDS.

Real sensor_msgs messages (and rmw's own serialization of them, as a raw subscription delivers
them) go through the arrival path into the real newest-frame mailbox; the camera's ledger must
account for each one exactly once. The cameras' watch (subscriptions and the QoS re-check) runs
on a real rclpy lifecycle node in this process, over real DDS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from node_harness import spin_for
from rclpy.expand_topic_name import expand_topic_name
from rclpy.lifecycle import LifecycleNode
from rclpy.logging import get_logger
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.msg import InferenceTiming
from yolo_trt_ros.ros.cameras import (
    Camera,
    CameraWatch,
    Frame,
    arrive,
    create_cameras,
    summary,
)
from yolo_trt_ros.ros.qos import RECHECK_S, RECHECK_WAITING_S
from yolo_trt_ros.ros.transport import SerializedImage, TransportMonitor
from yolo_trt_ros.settings import DetectorConfig
from yolo_trt_ros.stream import NewestFrameMailbox, RateCap

MAX_PIXELS = 1920 * 1080


class Topic:
    """A camera output that keeps what is published on it."""

    def __init__(self, name: str, subscribers: int = 1) -> None:
        self.topic_name = name
        self.subscribers = subscribers
        self.messages: list[Any] = []

    def publish(self, msg: Any) -> None:
        self.messages.append(msg)

    def get_subscription_count(self) -> int:
        return self.subscribers


def make_camera(input_type: str = "raw", rate_hz: float = 0.0, name: str = "front") -> Camera:
    return Camera(
        name=name,
        topic=f"/{name}/image",
        input_type=input_type,
        detections=Topic(f"/{name}/detections"),
        timing=Topic(f"/{name}/timing"),
        annotated=None,
        rate_cap=RateCap(rate_hz),
        logger=get_logger(f"test_cameras.{name}"),
    )


def image(sec: int, height: int = 48, width: int = 64) -> Image:
    pixels = np.full((height, width, 3), sec % 256, np.uint8)
    return Image(
        header=Header(stamp=Time(sec=sec), frame_id="cam"),
        height=height,
        width=width,
        encoding="bgr8",
        step=width * 3,
        data=pixels.tobytes(),
    )


def clock() -> Any:
    ticks = iter(range(1000, 10**6, 1000))
    return lambda: next(ticks)


def test_the_newest_frame_waits_and_replaced_ones_are_counted_as_dropped() -> None:
    camera, mailbox = make_camera(), NewestFrameMailbox[Frame]()
    now_ns = clock()
    for sec in (1, 2, 3):
        arrive(camera, image(sec), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    ((name, frame),) = mailbox.take(timeout=0)
    assert name == "front" and frame.msg.header.stamp.sec == 3
    assert frame.receive_ns == 3000  # the clock is read for admitted frames only
    stats = camera.stats.snapshot()
    assert (stats.received, stats.dropped, stats.in_flight) == (3, 2, 1)
    assert camera.drops_seen == 2


def test_a_bad_frame_is_refused_on_arrival_and_never_replaces_a_good_one() -> None:
    camera, mailbox = make_camera(), NewestFrameMailbox[Frame]()
    now_ns = clock()
    arrive(camera, image(1), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    short = image(2)
    short.data = short.data[:-1]  # one byte less than height * step
    arrive(camera, short, None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    arrive(camera, image(3, 1080, 1921), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    ((_, frame),) = mailbox.take(timeout=0)
    assert frame.msg.header.stamp.sec == 1
    stats = camera.stats.snapshot()
    assert (stats.received, stats.bad_frames, stats.dropped, stats.in_flight) == (3, 2, 0, 1)
    assert "limit 2073600" in stats.last_problem  # the max_pixels given
    assert stats.accounted == stats.received


def test_the_rate_cap_skips_frames_before_the_mailbox() -> None:
    camera, mailbox = make_camera(rate_hz=1.0), NewestFrameMailbox[Frame]()
    now_ns = clock()
    for sec in range(5):  # all within far less than a second
        arrive(camera, image(sec), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    ((_, frame),) = mailbox.take(timeout=0)
    assert frame.msg.header.stamp.sec == 0
    stats = camera.stats.snapshot()
    assert (stats.received, stats.skipped, stats.dropped, stats.in_flight) == (5, 4, 0, 1)


def test_serialized_frames_are_parsed_once_and_sequence_gaps_are_missed_frames() -> None:
    camera, mailbox = make_camera(), NewestFrameMailbox[Frame]()
    camera.transport = TransportMonitor(best_effort=True)
    now_ns = clock()
    for number in (7, 8, 11):  # 9 and 10 were sent but never delivered
        raw = serialize_message(image(number))
        info = {"publication_sequence_number": number, "publisher_gid": None}
        arrive(camera, raw, info, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    ((_, frame),) = mailbox.take(timeout=0)
    assert isinstance(frame.msg, SerializedImage) and frame.msg.header.stamp.sec == 11
    assert camera.transport.frame_bytes == len(serialize_message(image(11)))
    stats = camera.stats.snapshot()
    assert (stats.received, stats.missed, stats.dropped) == (3, 2, 2)


@pytest.mark.parametrize("data", [b"", b"not an image at all"])
def test_a_compressed_camera_refuses_what_is_not_a_jpeg_or_png(data: bytes) -> None:
    camera, mailbox = make_camera("compressed"), NewestFrameMailbox[Frame]()
    message = CompressedImage(header=Header(frame_id="cam"), format="jpeg", data=data)
    arrive(camera, message, None, mailbox, max_pixels=MAX_PIXELS, now_ns=clock())
    assert mailbox.take(timeout=0) == []
    stats = camera.stats.snapshot()
    assert (stats.received, stats.bad_frames) == (1, 1)


class Outputs:
    """Creates the cameras' outputs as Topics, keeping (message type, topic, depth) of each."""

    def __init__(self) -> None:
        self.created: list[tuple[Any, str, int]] = []

    def __call__(self, message_type: Any, topic: str, depth: int) -> Topic:
        self.created.append((message_type, topic, depth))
        return Topic(topic)


def resolve_in(namespace: str) -> Any:
    return lambda topic: expand_topic_name(topic, "yolo_detector", namespace)


def test_one_camera_publishes_beside_the_node_named_from_its_resolved_topic() -> None:
    outputs = Outputs()
    config = DetectorConfig.from_values(
        {"image_topics": ["image"], "max_rate_hz": 5.0, "publish_annotated": True}
    )
    cameras = create_cameras(config, resolve_in("/front"), outputs, get_logger("test_cameras"))
    (camera,) = cameras.values()
    assert (camera.name, camera.topic, camera.input_type) == ("front", "/front/image", "raw")
    assert outputs.created == [
        (Detection2DArray, "~/detections", 10),
        (InferenceTiming, "~/timing", 10),
        (Image, "~/annotated", 1),
    ]
    assert camera.detections.topic_name == "~/detections" and camera.annotated is not None
    assert camera.rate_cap.rate_hz == 5.0
    assert camera.logger.name == "test_cameras.front"


def test_several_cameras_publish_under_their_names_with_their_input_types() -> None:
    outputs = Outputs()
    config = DetectorConfig.from_values(
        {
            "image_topics": ["/a/cam/image_raw", "b/cam/image_raw/compressed"],
            "input_types": ["raw", "compressed"],
            "publish_annotated": False,
        }
    )
    cameras = create_cameras(config, resolve_in("/robot"), outputs, get_logger("test_cameras"))
    assert list(cameras) == ["a_cam", "b_cam"]
    assert cameras["b_cam"].topic == "/robot/b/cam/image_raw/compressed"
    assert [c.input_type for c in cameras.values()] == ["raw", "compressed"]
    assert [topic for _, topic, _ in outputs.created] == [
        "~/a_cam/detections",
        "~/a_cam/timing",
        "~/b_cam/detections",
        "~/b_cam/timing",
    ]
    assert all(camera.annotated is None for camera in cameras.values())
    named = DetectorConfig.from_values(
        {"image_topics": ["/a/image", "/b/image"], "camera_names": ["left", "right"]}
    )
    assert list(create_cameras(named, resolve_in("/"), Outputs(), get_logger("t"))) == [
        "left",
        "right",
    ]


WATCHED = "/camera_watch_test/image"


@pytest.fixture
def lifecycle_node(ros: RosHarness) -> Iterator[LifecycleNode]:
    node = LifecycleNode("camera_watch_test", context=ros.context)
    ros.executor.add_node(node)
    yield node
    ros.executor.remove_node(node)
    node.destroy_node()


def period_s(watch: CameraWatch) -> float:
    assert watch.timer is not None
    return float(watch.timer.timer_period_ns) / 1e9


def test_the_watch_matches_a_camera_started_later_and_stops_cleanly(
    ros: RosHarness, lifecycle_node: LifecycleNode
) -> None:
    camera = make_camera()
    camera.topic = WATCHED
    cameras = {camera.name: camera}
    arrived: list[tuple[str, Any]] = []

    def on_image(camera: Camera, msg: Any, info: Mapping[str, Any] | None) -> None:
        arrived.append((camera.name, msg))

    watch = CameraWatch(lifecycle_node, cameras)
    watch.start(DetectorConfig.from_values({"image_topics": [WATCHED]}), on_image)
    assert camera.subscription is not None and camera.reliability == ReliabilityPolicy.BEST_EFFORT
    spin_for(ros, 0.5)  # re-checks finding no publisher: keep checking often
    assert period_s(watch) == pytest.approx(RECHECK_WAITING_S)

    publisher = ros.node.create_publisher(
        Image, WATCHED, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    )
    ros.spin_until(
        lambda: camera.reliability == ReliabilityPolicy.RELIABLE, timeout=30, what="re-subscribe"
    )
    ros.spin_until(lambda: period_s(watch) == pytest.approx(RECHECK_S), timeout=5, what="slow")

    def published_and_arrived() -> bool:
        publisher.publish(image(1))
        return bool(arrived)

    ros.spin_until(published_and_arrived, timeout=30, what="a frame through the subscription")
    # serialized_images is on by default: the frame arrives as its CDR bytes
    assert arrived[0][0] == "front" and isinstance(arrived[0][1], bytes)

    watch.stop()
    assert camera.subscription is None and watch.timer is None
    assert not list(lifecycle_node.subscriptions)
    watch.stop()  # twice is harmless


def test_a_fixed_reliability_is_not_rechecked(lifecycle_node: LifecycleNode) -> None:
    camera = make_camera()
    watch = CameraWatch(lifecycle_node, {camera.name: camera})
    config = DetectorConfig.from_values({"qos_reliability": "reliable"})
    watch.start(config, lambda *_: None)
    assert camera.reliability == ReliabilityPolicy.RELIABLE and watch.timer is None
    watch.stop()
    assert camera.subscription is None


def test_the_summary_names_backend_device_and_each_camera_s_way() -> None:
    front, rear = make_camera(), make_camera("compressed", name="rear")
    line = summary({"backend": "onnxruntime", "device": "cpu"}, [front, rear])
    assert line == (
        "onnxruntime on cpu; /front/image (raw) -> /front/detections, "
        "/rear/image (compressed) -> /rear/detections"
    )
