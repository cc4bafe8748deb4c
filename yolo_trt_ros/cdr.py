"""Read serialized (CDR) ROS messages in place: primitives, and the header stamp of a frame.

rclpy hands a ``raw=True`` subscription the CDR bytes of each message, and a bag stores them; a
1080p image is 6 MB, so reading a few header fields, or rewriting the eight bytes of its stamp,
must not decode or copy its pixels. Every stamped message handled here (sensor_msgs/Image,
CompressedImage) starts with a std_msgs/Header, whose stamp (int32 sec, uint32 nanosec) is the
first thing after the 4-byte encapsulation header.
"""

from __future__ import annotations

import struct
from typing import Final

from yolo_trt_ros.errors import InvalidImageError

__all__ = [
    "CDR_LITTLE_ENDIAN",
    "CdrReader",
    "encapsulation_is_little_endian",
    "header_stamp_ns",
    "restamped",
]

CDR_LITTLE_ENDIAN: Final = (
    b"\x00\x01"  # encapsulation id of plain little-endian CDR (ROS 2 sends it)
)
_ENCAPSULATIONS: Final = {b"\x00\x00": ">", CDR_LITTLE_ENDIAN: "<"}  # CDR big / little endian
_ENCAPSULATION_BYTES: Final = 4
_STAMP: Final = struct.Struct("<iI")  # builtin_interfaces/Time: sec, nanosec
_NS_PER_S: Final = 1_000_000_000


class CdrReader:
    """Reads XCDR1 primitives in order; alignment counts from after the 4-byte encapsulation.

    ``what`` names the message in errors; a buffer that is not CDR or ends early raises
    InvalidImageError.
    """

    def __init__(self, buffer: bytes | memoryview, what: str) -> None:
        self._buffer = memoryview(buffer).cast("B")
        self._what = what
        endian = _ENCAPSULATIONS.get(bytes(self._buffer[:2]))
        if endian is None:
            raise InvalidImageError(
                f"the serialized {what} does not start with a CDR encapsulation header "
                f"({bytes(self._buffer[:4]).hex()}); is the topic type right?"
            )
        self._u32 = struct.Struct(f"{endian}I")
        self._i32 = struct.Struct(f"{endian}i")
        self._offset = _ENCAPSULATION_BYTES

    def _take(self, size: int, align: int) -> int:
        self._offset += -(self._offset - _ENCAPSULATION_BYTES) % align
        start, self._offset = self._offset, self._offset + size
        if self._offset > len(self._buffer):
            raise InvalidImageError(
                f"the serialized {self._what} is truncated ({len(self._buffer)} bytes)"
            )
        return start

    def u32(self) -> int:
        """Read a uint32."""
        value: int = self._u32.unpack_from(self._buffer, self._take(4, 4))[0]
        return value

    def i32(self) -> int:
        """Read an int32."""
        value: int = self._i32.unpack_from(self._buffer, self._take(4, 4))[0]
        return value

    def u8(self) -> int:
        """Read a uint8."""
        return int(self._buffer[self._take(1, 1)])

    def string(self) -> str:
        """Read a string (its length includes the terminating NUL)."""
        size = self.u32()
        start = self._take(size, 1)
        return bytes(self._buffer[start : start + max(size - 1, 0)]).decode("utf-8", "replace")

    def octets(self) -> memoryview:
        """Read a uint8[] as a view of the buffer (nothing is copied)."""
        size = self.u32()
        start = self._take(size, 1)
        return self._buffer[start : start + size]

    def header(self) -> tuple[int, int, str]:
        """Read a std_msgs/Header: stamp seconds, stamp nanoseconds and frame_id."""
        sec, nanosec = self.i32(), self.u32()
        return sec, nanosec, self.string()


def encapsulation_is_little_endian(cdr: bytes | memoryview) -> bool:
    """Whether a serialized message is little-endian CDR (the only kind restamped in place)."""
    return bytes(cdr[:2]) == CDR_LITTLE_ENDIAN


def _check(cdr: bytes | memoryview) -> None:
    if len(cdr) < _ENCAPSULATION_BYTES + _STAMP.size or not encapsulation_is_little_endian(cdr):
        raise ValueError("not a little-endian CDR message with a header stamp")


def header_stamp_ns(cdr: bytes | memoryview) -> int:
    """Return the header stamp of a serialized little-endian stamped message, in nanoseconds."""
    _check(cdr)
    sec, nanosec = _STAMP.unpack_from(cdr, _ENCAPSULATION_BYTES)
    return int(sec) * _NS_PER_S + int(nanosec)


def restamped(cdr: bytes | memoryview, stamp_ns: int) -> bytes:
    """Return a copy of a serialized stamped message with its header stamp set to ``stamp_ns``."""
    _check(cdr)
    view = memoryview(cdr)
    stamp = _STAMP.pack(*divmod(stamp_ns, _NS_PER_S))
    end = _ENCAPSULATION_BYTES + _STAMP.size
    return b"".join((view[:_ENCAPSULATION_BYTES], stamp, view[end:]))  # one copy
