"""Every frame sent to a running detector is accounted for, and bad frames never push out good ones.

The node runs as its own process over real DDS. Its per-camera diagnostics must add up: frames
received = published + dropped + skipped + bad + processing errors + discarded + in flight, and
frames received + frames missed before the callback (from the publishers' sequence numbers) =
frames this test sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from node_harness import (
    Collector,
    DetectorProcess,
    LifecycleClient,
    image_message,
    jpeg_message,
    latest_statuses,
    publish_until,
    spin_for,
    status_value,
)
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.ros import compat
from yolo_trt_ros.ros.diagnostics import FRAME_OUTCOMES
from yolo_trt_ros.testing.sample_images import build_sample_images

pytestmark = pytest.mark.skipif(
    not compat.FEATURES.message_info_callbacks,
    reason="this rclpy passes no message info to callbacks: frames missed are not counted",
)


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return build_sample_images()


class Books:
    """The newest per-camera counters the node published in its diagnostics."""

    def __init__(self, ros: RosHarness, node: str) -> None:
        self.node = node
        self.diagnostics = Collector(ros, DiagnosticArray, "/diagnostics")

    def status(self, camera: str) -> DiagnosticStatus | None:
        return latest_statuses(self.diagnostics, self.node).get(camera)

    def count(self, camera: str, key: str) -> int:
        status = self.status(camera)
        return int(status_value(status, key)) if status is not None else -1

    def settled(self, camera: str) -> bool:
        """Published after every frame sent so far came out (nothing in flight)."""
        return self.status(camera) is not None and self.count(camera, "frames in flight") == 0

    def assert_closed(self, camera: str) -> None:
        status = self.status(camera)
        assert status is not None
        received = int(status_value(status, "frames received"))
        outcomes = {key: int(status_value(status, key)) for key in FRAME_OUTCOMES}
        assert received == sum(outcomes.values()), (received, outcomes)


def _wait_for_books(
    ros: RosHarness, books: Books, cameras: list[str], condition: Callable[[str], bool], what: str
) -> None:
    """Wait for a diagnostics message published after the condition came true for every camera."""
    books.diagnostics.messages.clear()
    ros.spin_until(lambda: all(condition(c) for c in cameras), 60, what)


def test_bad_frames_never_displace_a_good_frame_waiting_for_the_model(
    ros: RosHarness,
    tmp_path: Path,
    detectors: list[DetectorProcess],
    images: dict[str, np.ndarray],
) -> None:
    """Each round: two good frames, then a burst of bad ones; the newer good frame is detected."""
    node = "detector_bad_burst"
    cameras = ["raw", "jpeg"]
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            image_topics=["/burst/raw", "/burst/jpeg"],
            input_types=["raw", "compressed"],
            camera_names=cameras,
            qos_reliability="reliable",
            qos_depth=100,  # DDS keeps every frame: only the node's mailbox may drop one
            autostart=True,
        )
    )
    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    publishers = {
        "raw": ros.node.create_publisher(Image, "/burst/raw", qos),
        "jpeg": ros.node.create_publisher(CompressedImage, "/burst/jpeg", qos),
    }
    detections = {
        name: Collector(ros, Detection2DArray, f"/{node}/{name}/detections", 100)
        for name in cameras
    }
    books = Books(ros, node)
    bus = images["bus"]

    def good(camera: str, sec: int) -> Image | CompressedImage:
        if camera == "raw":
            return image_message(bus, Time(sec=sec), "camera")
        return jpeg_message(bus, Time(sec=sec), "camera")[0]

    def publish_good() -> None:
        for camera in cameras:
            publishers[camera].publish(good(camera, 1))

    publish_until(
        ros,
        publish_good,
        lambda: all(d.messages for d in detections.values()),
        timeout=60,
        what="detections on good frames first",
    )
    _wait_for_books(ros, books, cameras, books.settled, "diagnostics with nothing in flight")
    before = {c: {k: books.count(c, k) for k in ("frames received", "bad frames")} for c in cameras}
    missed_before = {c: books.count(c, "frames missed before the callback") for c in cameras}

    raw_template = image_message(bus, Time(sec=7), "camera")
    bad: dict[str, list[Image | CompressedImage]] = {
        "raw": [
            image_message(bus, Time(sec=7), "camera"),
            Image(height=1080, width=810, encoding="bgr8", step=2430, data=b"short"),
            Image(height=1080, width=810, encoding="yuv420p10", step=2430, data=raw_template.data),
            Image(height=1080, width=810, encoding="bgr8", step=10, data=raw_template.data),
            Image(height=0, width=810, encoding="bgr8", step=2430),
        ],
        "jpeg": [
            CompressedImage(format="jpeg", data=b"\x00" * 5000),
            CompressedImage(format="jpeg", data=b""),
            CompressedImage(format="png", data=b"definitely not a PNG" * 50),
            CompressedImage(format="16UC1; compressedDepth png", data=b"\x89PNG\r\n\x1a\n"),
        ],
    }
    bad["raw"][0].encoding = "16UC1"  # a depth image on a colour topic
    rounds, burst = 8, 12
    for index in range(rounds):
        newer = 100 + 2 * index + 1
        for camera in cameras:
            publishers[camera].publish(good(camera, newer - 1))
            publishers[camera].publish(good(camera, newer))
            for k in range(burst):  # unpaced: they arrive while the newer good frame waits
                publishers[camera].publish(bad[camera][k % len(bad[camera])])

        def seen(camera: str, sec: int = newer) -> bool:
            return any(m.header.stamp.sec == sec for m in detections[camera].messages)

        ros.spin_until(
            lambda: all(seen(c) for c in cameras),
            60,
            f"detections of the newer good frame of round {index + 1} on both cameras",
        )

    sent = rounds * (2 + burst)
    _wait_for_books(
        ros,
        books,
        cameras,
        lambda c: (
            books.settled(c)
            and books.count(c, "frames received") >= before[c]["frames received"] + sent
        ),
        "every frame of the rounds in the diagnostics",
    )
    for camera in cameras:
        books.assert_closed(camera)
        assert books.count(camera, "frames received") - before[camera]["frames received"] == sent
        assert books.count(camera, "bad frames") - before[camera]["bad frames"] == rounds * burst
        assert books.count(camera, "frames missed before the callback") == missed_before[camera]
    assert "dropped a frame from /burst/raw" in detectors[0].log

    # deactivated with frames waiting: they are discarded, and the books still close
    lifecycle = LifecycleClient(ros, node)
    for sec in range(200, 206):
        for camera in cameras:
            publishers[camera].publish(good(camera, sec))
    assert lifecycle.transition("deactivate") and lifecycle.transition("activate")
    _wait_for_books(ros, books, cameras, books.settled, "diagnostics after deactivating")
    for camera in cameras:
        books.assert_closed(camera)


def test_every_frame_of_two_1080p_cameras_is_accounted_for(
    ros: RosHarness,
    tmp_path: Path,
    detectors: list[DetectorProcess],
    images: dict[str, np.ndarray],
) -> None:
    """Two 1080p30 cameras into one CPU node: most frames cannot be processed, none is lost track of."""
    node = "detector_accounting"
    cameras = ["left", "right"]
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            image_topics=["/accounting/left", "/accounting/right"],
            camera_names=cameras,
            autostart=True,
        )
    )
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)  # a camera driver's
    publishers = {c: ros.node.create_publisher(Image, f"/accounting/{c}", qos) for c in cameras}
    detections = {c: Collector(ros, Detection2DArray, f"/{node}/{c}/detections") for c in cameras}
    books = Books(ros, node)
    frame = image_message(images["street_1080p"], Time(sec=1), "camera")

    def publish() -> None:
        for publisher in publishers.values():
            publisher.publish(frame)

    publish_until(
        ros,
        publish,
        lambda: all(d.messages for d in detections.values()),
        timeout=60,
        what="detections from both cameras",
    )
    _wait_for_books(ros, books, cameras, books.settled, "diagnostics with nothing in flight")
    keys = ("frames received", "frames missed before the callback")
    before = {c: {k: books.count(c, k) for k in keys} for c in cameras}

    sent, period, seconds = 0, 1 / 30, 8.0
    start = time.monotonic()
    while (due := start + sent * period) < start + seconds:
        spin_for(ros, max(0.0, due - time.monotonic()))
        frame.header.stamp = ros.node.get_clock().now().to_msg()
        publish()
        sent += 1

    def arrived(camera: str) -> int:
        return sum(books.count(camera, k) - before[camera][k] for k in keys)

    tolerance = sent // 100  # within 1 % of the frames sent
    _wait_for_books(
        ros,
        books,
        cameras,
        lambda c: books.settled(c) and arrived(c) >= sent - tolerance,
        "the frames sent in the diagnostics",
    )
    for camera in cameras:
        books.assert_closed(camera)
        received = books.count(camera, "frames received") - before[camera]["frames received"]
        print(
            f"{camera}: sent {sent}, received {received}, missed before the callback "
            f"{arrived(camera) - received}, published "
            f"{books.count(camera, 'frames published')}, dropped {books.count(camera, 'frames dropped')}"
        )
        assert abs(arrived(camera) - sent) <= tolerance
        status = books.status(camera)
        assert status is not None
        assert int(status_value(status, "frames sent (estimated)")) == books.count(
            camera, "frames received"
        ) + books.count(camera, "frames missed before the callback")
