"""Detections serialized by hand against rclpy's own serializer of the message the node builds."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.ros import messages
from yolo_trt_ros.ros.detection_cdr import SerializedDetections, detection_array_cdr


def _random_detections(rng: np.random.Generator, count: int) -> Detections:
    corners = rng.uniform(-5.0, 4000.0, (count, 2, 2)).astype(np.float32)
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    names = {index: "x" * int(rng.integers(0, 12)) + f"class {index}" for index in range(90)}
    names[3] = "Fahrrad \u00fc \u81ea\u884c\u8f66"  # non-ASCII: UTF-8 byte lengths differ
    return Detections(
        boxes,
        rng.uniform(0.0, 1.0, count).astype(np.float32),
        rng.integers(0, 95, count),  # some indices have no name: their number is used
        names,
    )


@pytest.mark.parametrize("style", ["name", "index"])
def test_bytes_match_rclpys_serialization_of_the_built_message(style: str) -> None:
    rng = np.random.default_rng(11)
    for trial in range(60):
        count = int(rng.integers(0, 40)) if trial else 0
        found = _random_detections(rng, count)
        frame_id = "" if trial % 7 == 0 else "camera_" + "o" * int(rng.integers(0, 9))
        header = Header(frame_id=frame_id)
        header.stamp.sec, header.stamp.nanosec = int(rng.integers(-5, 2**31 - 1)), 999_999_999
        built = messages.detection_array(found, header, style)
        expected = serialize_message(built)
        ours = SerializedDetections.serialize(found, header, style)
        # Fast CDR leaves padding bytes as they were in memory: the lengths are equal, and where
        # the bytes differ ours are zero (padding) and few (at most 7 per aligned field)
        assert len(ours) == len(expected), (trial, count, frame_id)
        a, b = np.frombuffer(ours, np.uint8), np.frombuffer(expected, np.uint8)
        differ = np.flatnonzero(a != b)
        assert not a[differ].any(), (trial, differ[:8])
        assert len(differ) <= 7 * (3 * count + 1), (trial, len(differ))
        assert deserialize_message(ours, Detection2DArray) == built, (trial, count, frame_id)


def test_the_check_turns_the_byte_path_on_only_when_both_agree() -> None:
    serialized = SerializedDetections()
    assert serialized.check(
        serialize_message, deserialize_message, messages.detection_array, Header(frame_id="c")
    )
    assert serialized.enabled and serialized.reason == ""

    def other_middleware(msg: Detection2DArray) -> bytes:
        return serialize_message(msg) + b"\0"

    assert not serialized.check(
        other_middleware, deserialize_message, messages.detection_array, Header()
    )
    assert not serialized.enabled and "otherwise" in serialized.reason

    def broken(msg: Detection2DArray) -> bytes:
        raise RuntimeError("no serializer here")

    assert not serialized.check(broken, deserialize_message, messages.detection_array, Header())
    assert "no serializer here" in serialized.reason


def test_raw_writer_takes_the_labels_it_is_given() -> None:
    found = Detections(
        np.array([[1, 2, 3, 4]], np.float32), np.array([0.5], np.float32), np.array([0]), {}
    )
    for label in ("a", "ab", ""):
        back = deserialize_message(detection_array_cdr(found, 1, 2, "f", [label]), Detection2DArray)
        assert back.detections[0].results[0].hypothesis.class_id == label
        assert (back.header.stamp.sec, back.header.stamp.nanosec) == (1, 2)
