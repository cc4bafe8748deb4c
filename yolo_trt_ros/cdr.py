"""Read and rewrite the header stamp of a serialized (CDR) stamped message, without decoding it.

A 1080p image is 6 MB: decoding it only to change eight bytes of its header would cost more than
publishing it. Every message the replay handles (sensor_msgs/Image, CompressedImage) starts with a
std_msgs/Header, whose stamp (int32 sec, uint32 nanosec) is the first thing after the 4-byte CDR
encapsulation header, so its position is fixed.
"""

from __future__ import annotations

import struct

__all__ = ["CDR_LITTLE_ENDIAN", "encapsulation_is_little_endian", "header_stamp_ns", "restamped"]

CDR_LITTLE_ENDIAN = b"\x00\x01"  # encapsulation id of plain little-endian CDR (what ROS 2 sends)
_STAMP = struct.Struct("<iI")  # builtin_interfaces/Time: sec, nanosec
_STAMP_OFFSET = 4
_NS_PER_S = 1_000_000_000


def encapsulation_is_little_endian(cdr: bytes | memoryview) -> bool:
    """Whether a serialized message is little-endian CDR (the only kind handled in place)."""
    return bytes(cdr[:2]) == CDR_LITTLE_ENDIAN


def _check(cdr: bytes | memoryview) -> None:
    if len(cdr) < _STAMP_OFFSET + _STAMP.size or not encapsulation_is_little_endian(cdr):
        raise ValueError("not a little-endian CDR message with a header stamp")


def header_stamp_ns(cdr: bytes | memoryview) -> int:
    """Return the header stamp of a serialized stamped message, in nanoseconds."""
    _check(cdr)
    sec, nanosec = _STAMP.unpack_from(cdr, _STAMP_OFFSET)
    return int(sec) * _NS_PER_S + int(nanosec)


def restamped(cdr: bytes | memoryview, stamp_ns: int) -> bytes:
    """Return a copy of a serialized stamped message with its header stamp set to ``stamp_ns``."""
    _check(cdr)
    view = memoryview(cdr)
    stamp = _STAMP.pack(*divmod(stamp_ns, _NS_PER_S))
    return b"".join((view[:_STAMP_OFFSET], stamp, view[_STAMP_OFFSET + _STAMP.size :]))  # one copy
