"""Detections written straight to a serialized vision_msgs/Detection2DArray (CDR), for publish(bytes).

Building the message in Python (a Detection2D, hypothesis, pose and box object per detection) and
converting it to C for the middleware costs more than the rest of publishing; the bytes of the same
message take a few struct calls per detection. The writer produces what
``rclpy.serialization.serialize_message`` produces for ``messages.detection_array`` (plain
little-endian CDR: primitives aligned to their size from the start of the payload, strings with
their terminating NUL), byte for byte except the padding, which it zeroes where Fast CDR leaves
whatever was in memory. ``SerializedDetections.check`` compares the two on a probe (same length,
same message when read back) before the node relies on it, so a middleware that serializes
differently gets the message path instead.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import numpy as np

from yolo_trt_ros.cdr import CDR_LITTLE_ENDIAN
from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.ros.messages import class_labels

__all__ = ["SerializedDetections", "detection_array_cdr"]

_ENCAPSULATION: Final = CDR_LITTLE_ENDIAN + b"\x00\x00"  # and two option bytes
_UINT32: Final = struct.Struct("<I")
_STAMP: Final = struct.Struct("<iI")
# hypothesis score, pose (position xyz, orientation xyzw = identity), 36 zero covariances
_SCORE_POSE: Final = struct.Struct("<8d")
_COVARIANCE: Final = bytes(36 * 8)
_BOX: Final = struct.Struct("<5d")  # center x, y, theta, size_x, size_y


class _Writer:
    """Appends CDR primitives to a buffer, aligned from the start of the payload."""

    def __init__(self) -> None:
        self.buffer = bytearray(_ENCAPSULATION)

    def align(self, size: int) -> None:
        padding = -(len(self.buffer) - len(_ENCAPSULATION)) % size
        if padding:
            self.buffer += bytes(padding)

    def uint32(self, value: int) -> None:
        self.align(4)
        self.buffer += _UINT32.pack(value)

    def string(self, encoded: bytes) -> None:
        self.uint32(len(encoded) + 1)
        self.buffer += encoded
        self.buffer += b"\x00"

    def header(self, stamp: bytes, frame_id: bytes) -> None:
        self.align(4)
        self.buffer += stamp
        self.string(frame_id)


def detection_array_cdr(
    detections: Detections, sec: int, nanosec: int, frame_id: str, labels: list[str]
) -> bytes:
    """Serialize detections as the Detection2DArray ``messages.detection_array`` builds.

    ``labels[i]`` is the class_id string of detection i (a name or a number, as the node's
    ``class_id_style`` says); every Detection2D carries the array's header.
    """
    writer = _Writer()
    stamp = _STAMP.pack(sec, nanosec)
    frame = frame_id.encode()
    writer.header(stamp, frame)
    boxes = detections.boxes.tolist()  # Python floats: what the message path writes
    scores = detections.scores.tolist()
    writer.uint32(len(scores))
    for (x1, y1, x2, y2), score, label in zip(boxes, scores, labels, strict=True):
        writer.header(stamp, frame)
        writer.uint32(1)  # one hypothesis
        writer.string(label.encode())
        writer.align(8)
        writer.buffer += _SCORE_POSE.pack(score, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
        writer.buffer += _COVARIANCE
        writer.buffer += _BOX.pack((x1 + x2) / 2, (y1 + y2) / 2, 0.0, x2 - x1, y2 - y1)
        writer.string(b"")  # id
    return bytes(writer.buffer)


def _probe() -> Detections:
    """Two detections with awkward values: odd-length and non-ASCII names, float32 edges."""
    boxes = np.array([[0.5, 1.25, 640.0, 479.75], [3.0e-3, 7.0, 1919.5, 1080.0]], np.float32)
    names = {0: "person", 7: "Ampel \u00fc"}
    return Detections(boxes, np.array([0.9, 0.25], np.float32), np.array([0, 7]), names)


class SerializedDetections:
    """Decides once whether detections may be published as bytes, then serializes them.

    ``check(serialize, deserialize, build, header)`` serializes a probe both ways (``serialize``
    and ``deserialize``: rclpy's; ``build``: ``messages.detection_array``) and turns the byte path
    on only if both have the same length and read back as the built message; ``reason`` says why
    it is off.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.reason = "not checked yet"

    def check(self, serialize: Any, deserialize: Any, build: Any, header: Any) -> bool:
        """Compare both paths on a probe; enable the byte path when they agree."""
        probe = _probe()

        def agree(style: str) -> bool:
            built = build(probe, header, style)
            ours = self.serialize(probe, header, style)
            theirs = bytes(serialize(built))
            return len(ours) == len(theirs) and deserialize(ours, type(built)) == built

        try:
            agreed = all(agree(style) for style in ("name", "index"))
        except Exception as error:  # noqa: BLE001 - any surprise means: use the message path
            self.enabled, self.reason = False, f"{type(error).__name__}: {error}"
            return False
        self.enabled = agreed
        self.reason = "" if agreed else "this middleware serializes Detection2DArray otherwise"
        return agreed

    def disable(self, reason: str) -> None:
        """Use the message path from now on (e.g. this rclpy cannot publish bytes)."""
        self.enabled, self.reason = False, reason

    @staticmethod
    def serialize(detections: Detections, header: Any, class_id_style: str) -> bytes:
        """Serialize the Detection2DArray of ``detections``, stamped with ``header``."""
        stamp = header.stamp
        return detection_array_cdr(
            detections,
            stamp.sec,
            stamp.nanosec,
            header.frame_id,
            class_labels(detections, class_id_style),
        )
