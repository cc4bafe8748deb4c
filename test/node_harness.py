"""The detector node harness for the tests: yolo_trt_ros.testing.node_harness plus pytest's parts.

The harness itself (`DetectorProcess`, `LifecycleClient`, `Collector`, message builders) is
package code, shared with scripts/soak_hostile.py; here are what needs pytest or unittest:
`RosTestCase`, `assert_same_detections`, and the raw-plus-JPEG publish and reference helpers. Every name the tests import from here still is.
"""

from __future__ import annotations

import unittest
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.testing.node_harness import (
    LATCHED,
    TRANSITIONS,
    Collector,
    DetectorProcess,
    LifecycleClient,
    image_message,
    jpeg_message,
    latest_statuses,
    publish_until,
    sensor_qos,
    spin_for,
    status_value,
)

__all__ = [
    "LATCHED",
    "TRANSITIONS",
    "Collector",
    "DetectorProcess",
    "LifecycleClient",
    "RosHarness",
    "RosTestCase",
    "assert_same_detections",
    "expected_raw_and_jpeg",
    "image_message",
    "jpeg_message",
    "latest_statuses",
    "publish_raw_and_jpeg",
    "publish_until",
    "sensor_qos",
    "spin_for",
    "status_value",
]


class RosTestCase(unittest.TestCase):
    """A unittest case (as launch_testing runs them) with a RosHarness for the whole class."""

    ros: RosHarness

    @classmethod
    def setUpClass(cls) -> None:
        cls.ros = RosHarness()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.ros.close()


def assert_same_detections(message: Detection2DArray, expected: Detections) -> None:
    """The node's message holds exactly the core's detections: names, scores, boxes, header."""
    assert len(message.detections) == len(expected) > 0
    for detection, (box, score, _, name) in zip(message.detections, expected, strict=True):
        (result,) = detection.results
        assert result.hypothesis.class_id == name
        assert result.hypothesis.score == pytest.approx(score, abs=1e-6)
        center, size = detection.bbox.center.position, detection.bbox
        got = [
            center.x - size.size_x / 2,
            center.y - size.size_y / 2,
            center.x + size.size_x / 2,
            center.y + size.size_y / 2,
        ]
        assert got == pytest.approx(list(box), abs=1e-3)
        assert detection.header == message.header


def publish_raw_and_jpeg(
    ros: RosHarness,
    image: np.ndarray,
    stamp: Time,
    *,
    topics: tuple[str, str],
    frame_ids: tuple[str, str],
    until: Callable[[], bool],
    timeout: float,
    what: str,
) -> bytes:
    """Publish one image as an Image and as a JPEG CompressedImage (depth 1 each) until `until`.

    Returns the JPEG bytes sent, for `expected_raw_and_jpeg`.
    """
    raw_in = ros.node.create_publisher(Image, topics[0], 1)
    jpeg_in = ros.node.create_publisher(CompressedImage, topics[1], 1)
    raw_msg = image_message(image, stamp, frame_ids[0])
    jpeg_msg, jpeg_bytes = jpeg_message(image, stamp, frame_ids[1])

    def publish() -> None:
        raw_in.publish(raw_msg)
        jpeg_in.publish(jpeg_msg)

    publish_until(ros, publish, until, timeout=timeout, what=what)
    return jpeg_bytes


def expected_raw_and_jpeg(
    core: Detector, image: np.ndarray, jpeg_bytes: bytes
) -> tuple[Detections, Detections]:
    """The core's detections on the raw image and on the JPEG as OpenCV decodes it."""
    expected_raw = core(image)
    decoded = cv2.imdecode(np.frombuffer(jpeg_bytes, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return expected_raw, core(np.asarray(decoded, np.uint8))
