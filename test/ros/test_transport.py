"""Serialized (raw) image subscriptions and the transport-loss warning, over real Fast DDS.

The reference serializer is rmw's own (rclpy.serialization.serialize_message); the reference
pixels are the arrays the messages were built from; the reference detections come from the
detection core run in this process.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from node_harness import (
    Collector,
    DetectorProcess,
    assert_same_detections,
    expected_raw_and_jpeg,
    image_message,
    jpeg_message,
    publish_raw_and_jpeg,
    publish_until,
)
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.dds import FASTDDS_PROFILE
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.ros.image_conversion import compressed_to_array, image_to_array
from yolo_trt_ros.ros.transport import (
    SerializedCompressedImage,
    TransportMonitor,
    compressed_image_from_cdr,
    frame_from_cdr,
    image_from_cdr,
    warn_about_transport,
)
from yolo_trt_ros.testing.sample_images import build_sample_images

if TYPE_CHECKING:
    from yolo_trt_ros.ros.compat import QoSMessageLostInfo


@pytest.mark.parametrize("frame_id", ["", "c", "cam", "camera_optical_frame"])  # all alignments
@pytest.mark.parametrize("encoding", ["rgb8", "mono8", "bgra8"])
def test_serialized_image_views_the_same_pixels(frame_id: str, encoding: str) -> None:
    rng = np.random.default_rng(7)
    channels = {"rgb8": 3, "mono8": 1, "bgra8": 4}[encoding]
    height, width, padding = 5, 7, 3  # a padded row step
    rows = rng.integers(0, 256, (height, width * channels + padding), np.uint8)
    msg = Image(
        header=Header(stamp=Time(sec=12, nanosec=345), frame_id=frame_id),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels + padding,
        data=rows.tobytes(),
    )
    serialized = serialize_message(msg)
    view = image_from_cdr(serialized)
    assert (view.header.stamp.sec, view.header.stamp.nanosec) == (12, 345)
    assert view.header.frame_id == frame_id
    assert (view.height, view.width, view.encoding, view.step) == (
        height,
        width,
        encoding,
        msg.step,
    )
    pixels, pixel_format = image_to_array(view)
    expected = rows[:, : width * channels].reshape(height, width, channels).squeeze()
    np.testing.assert_array_equal(pixels, expected)
    assert pixel_format == encoding
    assert not pixels.flags.owndata  # a view of the serialized bytes, not a copy
    assert np.shares_memory(pixels, np.frombuffer(serialized, np.uint8))


def test_serialized_compressed_image_decodes_like_the_message() -> None:
    bus = build_sample_images()["bus"]
    msg, jpeg = jpeg_message(bus, Time(sec=1, nanosec=2), "front")
    view = compressed_image_from_cdr(serialize_message(msg))
    assert (view.format, view.header.frame_id, bytes(view.data)) == ("jpeg", "front", jpeg)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(compressed_to_array(view)[0], decoded)
    again = frame_from_cdr(serialize_message(msg), compressed=True)
    assert isinstance(again, SerializedCompressedImage) and again.format == "jpeg"


def test_bad_serialized_frames_are_clear_errors() -> None:
    good = serialize_message(image_message(np.zeros((4, 4, 3), np.uint8), Time(), "f"))
    with pytest.raises(InvalidImageError, match="truncated"):
        image_from_cdr(good[:30])
    with pytest.raises(InvalidImageError, match="CDR encapsulation header"):
        image_from_cdr(b"\x07\x07\x00\x00" + good[4:])
    with pytest.raises(InvalidImageError, match="truncated"):
        image_from_cdr(good[:-5])  # the header is whole, the pixels are not


def test_big_endian_cdr_is_read() -> None:
    # Built by hand from the CDR rules (an independent reference): stamp, frame_id "ab",
    # height 1, width 2, encoding "mono8", is_bigendian 0, step 2, data [9, 8].
    body = (
        (3).to_bytes(4, "big")
        + (4).to_bytes(4, "big")
        + (3).to_bytes(4, "big")
        + b"ab\x00\x00"
        + (1).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
        + (6).to_bytes(4, "big")
        + b"mono8\x00"
        + b"\x00\x00"  # is_bigendian, then padding to 4
        + (2).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
        + b"\x09\x08"
    )
    view = image_from_cdr(b"\x00\x00\x00\x00" + body)
    assert (view.header.stamp.sec, view.header.stamp.nanosec, view.header.frame_id) == (3, 4, "ab")
    np.testing.assert_array_equal(image_to_array(view)[0], [[9, 8]])


def test_monitor_warns_only_for_risky_setups(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    best_effort, reliable = TransportMonitor(best_effort=True), TransportMonitor(best_effort=False)
    assert best_effort.warning() == ""  # nothing arrived yet: the frame size is unknown
    every_frame_lost = TransportMonitor(best_effort=True)
    # the two fields DDS's message-lost event carries (rclpy's type cannot be built in Python)
    lost_event = SimpleNamespace(total_count=3, total_count_change=3)
    every_frame_lost.on_message_lost(cast("QoSMessageLostInfo", lost_event))
    warning = every_frame_lost.warning()  # DDS lost frames, none arrived: warn all the same
    assert "3 frame(s) lost" in warning and "none has arrived" in warning, warning
    assert "may not fit" in warning and FASTDDS_PROFILE in warning, warning
    for monitor in (best_effort, reliable):
        monitor.observe(1920 * 1080 * 3)
    assert FASTDDS_PROFILE in best_effort.warning()
    assert reliable.warning() == ""
    status = DiagnosticStatus(level=DiagnosticStatus.OK, message="30 Hz in")
    warned = warn_about_transport(status, best_effort, active=True)
    assert warned.level == DiagnosticStatus.WARN and FASTDDS_PROFILE in warned.message
    quiet = warn_about_transport(DiagnosticStatus(level=DiagnosticStatus.OK), reliable, True)
    assert quiet.level == DiagnosticStatus.OK
    values = {v.key: v.value for v in quiet.values}
    assert values["transport warning"] == "none" and values["frames lost in transport"] == "0"


# --- over DDS, with the detector in its own process ---------------------------------------------


def test_serialized_and_message_paths_give_the_same_detections(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    street = build_sample_images()["street_1080p"]
    for serialized in (True, False):
        name = f"detector_serialized_{str(serialized).lower()}"
        detectors.append(
            DetectorProcess(
                name,
                tmp_path,
                image_topics=["/transport_test/raw", "/transport_test/jpeg"],
                input_types=["raw", "compressed"],
                camera_names=["raw", "jpeg"],
                serialized_images=serialized,
                autostart=True,
            )
        )
    outputs = {
        (serialized, kind): Collector(
            ros, Detection2DArray, f"/detector_serialized_{serialized}/{kind}/detections"
        )
        for serialized in ("true", "false")
        for kind in ("raw", "jpeg")
    }
    stamp = Time(sec=77, nanosec=88)
    jpeg_bytes = publish_raw_and_jpeg(
        ros,
        street,
        stamp,
        topics=("/transport_test/raw", "/transport_test/jpeg"),
        frame_ids=("street", "street_jpeg"),
        until=lambda: all(c.messages for c in outputs.values()),
        timeout=90,
        what="detections from both nodes and both inputs",
    )
    with Detector.from_model() as core:
        expected_raw, expected_jpeg = expected_raw_and_jpeg(core, street, jpeg_bytes)
    expected = {"raw": expected_raw, "jpeg": expected_jpeg}
    for (_, kind), collector in outputs.items():
        message = collector.messages[0]
        assert message.header.stamp == stamp
        assert message.header.frame_id == ("street" if kind == "raw" else "street_jpeg")
        assert_same_detections(message, expected[kind])


def test_best_effort_1080p_without_the_profile_warns_in_diagnostics(
    ros: RosHarness,
    tmp_path: Path,
    detectors: list[DetectorProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)  # the node inherits the default Fast DDS setup
    node = "detector_lossy"
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            image_topics=["/lossy_test/image"],
            qos_reliability="best_effort",
            autostart=True,
        )
    )
    statuses: list[DiagnosticStatus] = []
    detector_statuses: list[DiagnosticStatus] = []

    def on_diagnostics(msg: DiagnosticArray) -> None:
        statuses.extend(s for s in msg.status if s.name == f"/{node}: lossy_test")
        detector_statuses.extend(s for s in msg.status if s.name == f"/{node}: detector")

    ros.node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    camera = ros.node.create_publisher(
        Image, "/lossy_test/image", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    )
    frame = image_message(build_sample_images()["street_1080p"], Time(), "lossy")

    def warned() -> bool:
        return any(FASTDDS_PROFILE in s.message for s in statuses[-3:])

    sent = [0]

    def publish_burst() -> None:
        for _ in range(10):  # 30 Hz, like a camera
            camera.publish(frame)
            sent[0] += 1
            time.sleep(1 / 30)

    try:
        publish_until(ros, publish_burst, warned, timeout=90, what="a transport warning")
    except AssertionError as error:
        last = {v.key: v.value for v in statuses[-1].values} if statuses else "no status"
        message = f"{error}; {sent[0]} frames sent; the camera's last status: {last}"
        raise AssertionError(message) from error
    status = statuses[-1]
    values = {v.key: v.value for v in status.values}
    assert status.level == DiagnosticStatus.WARN
    assert "shared-memory segment" in status.message
    received = int(values["frames received"])
    if received == 0:  # every frame lost (a loaded machine): DDS's lost samples carry the warning
        assert "none has arrived" in status.message and int(values["frames lost in transport"])
    if received < sent[0] - 10:  # clearly lossy: DDS must have reported lost samples
        assert int(values["frames lost in transport"]) > 0, (received, sent[0], values)
    # reuse_frame_memory defaults to true: configure tuned the node's heap and says so
    detector = {v.key: v.value for v in detector_statuses[-1].values}
    assert "come from the heap" in detector["frame memory reuse"], detector
