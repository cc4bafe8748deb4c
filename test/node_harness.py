"""The detector node harness for the tests: yolo_trt_ros.testing.node_harness plus pytest's parts.

The harness itself (`DetectorProcess`, `LifecycleClient`, `Collector`, message builders) is
package code, shared with scripts/soak_hostile.py; here are what needs pytest or unittest:
`RosTestCase` and `assert_same_detections`. Every name the tests import from here still is.
"""

from __future__ import annotations

import unittest

import pytest
from conftest import RosHarness
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.core.detections import Detections
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
    "image_message",
    "jpeg_message",
    "latest_statuses",
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
