"""Camera frames from serialized (raw) subscriptions, and the watch on frames lost in transport.

With ``create_subscription(..., raw=True)`` rclpy hands the callback the CDR bytes of the
message; ``image_from_cdr`` and ``compressed_image_from_cdr`` read the few header fields with
``yolo_trt_ros.cdr.CdrReader`` and return the pixel data as a memoryview of those bytes: no Python
message is built and no pixel is copied (``image_to_array`` then views it in place).
``TransportMonitor`` counts the DDS message-lost events of a subscription and the frames missing
from its publishers' sequence numbers (``yolo_trt_ros.stream.sequence_gaps``), and says, for the
camera's diagnostics, when large frames are being lost or travel over a setup known to lose them,
and what to do about it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rclpy.utilities import get_rmw_implementation_identifier
from std_msgs.msg import Header

from yolo_trt_ros.cdr import CdrReader
from yolo_trt_ros.dds import frame_loss_risk
from yolo_trt_ros.ros.compat import FEATURES, QoSMessageLostInfo, RclpyFeatures, publication_of
from yolo_trt_ros.stream.sequence_gaps import SequenceGaps

__all__ = [
    "LOSS_WINDOW_S",
    "SerializedCompressedImage",
    "SerializedImage",
    "TransportMonitor",
    "compressed_image_from_cdr",
    "frame_from_cdr",
    "image_from_cdr",
    "warn_about_transport",
]

LOSS_WINDOW_S: Final = 10.0
"""Lost frames older than this no longer raise the warning."""
_LARGE_FRAME_BYTES: Final = 65_500  # more than one UDP datagram: the frame travels in fragments
_SEE_TRANSPORT_DOCS: Final = "see docs/transport.md for the shipped DDS profile and camera settings"


@dataclass(frozen=True)
class SerializedImage:
    """The fields of a sensor_msgs/Image read from its CDR bytes; ``data`` views those bytes."""

    header: Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


@dataclass(frozen=True)
class SerializedCompressedImage:
    """The fields of a sensor_msgs/CompressedImage read from its CDR bytes (``data`` is a view)."""

    header: Header
    format: str
    data: memoryview


def _header(reader: CdrReader) -> Header:
    sec, nanosec, frame_id = reader.header()
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def image_from_cdr(serialized: bytes | memoryview) -> SerializedImage:
    """Read a serialized sensor_msgs/Image without copying its pixels."""
    reader = CdrReader(serialized, "sensor_msgs/Image")
    header = _header(reader)
    height, width = reader.u32(), reader.u32()
    encoding, is_bigendian = reader.string(), reader.u8()
    step = reader.u32()
    return SerializedImage(header, height, width, encoding, is_bigendian, step, reader.octets())


def compressed_image_from_cdr(serialized: bytes | memoryview) -> SerializedCompressedImage:
    """Read a serialized sensor_msgs/CompressedImage without copying its data."""
    reader = CdrReader(serialized, "sensor_msgs/CompressedImage")
    header = _header(reader)
    return SerializedCompressedImage(header, reader.string(), reader.octets())


def frame_from_cdr(
    serialized: bytes | memoryview, *, compressed: bool
) -> SerializedImage | SerializedCompressedImage:
    """Read a serialized Image, or CompressedImage when ``compressed``."""
    return compressed_image_from_cdr(serialized) if compressed else image_from_cdr(serialized)


class TransportMonitor:
    """Frames of one camera lost in transport, and whether its setup is known to lose them."""

    def __init__(self, best_effort: bool, features: RclpyFeatures = FEATURES) -> None:
        self.best_effort = best_effort
        self.features = features
        self.sequences = SequenceGaps()  # per subscription: a new one starts a new baseline
        self.publishers: Callable[[], int] = lambda: 1
        """How many publishers the subscription has (set by its owner once subscribed)."""
        self.frame_bytes = 0
        self.lost_total = 0
        self.losses_unreported = ""
        """Why the subscription delivers no message-lost events ('' when it does)."""
        self._lost: deque[tuple[float, int]] = deque()  # (monotonic time, frames lost then)
        # the environment (DDS profile) is fixed for the process: judge each frame size once
        self._risk: tuple[int | None, str] | None = None

    def observe(self, frame_bytes: int) -> None:
        """Note the size of an arriving frame (bytes on the wire)."""
        self.frame_bytes = frame_bytes

    def missed_before(self, info: Mapping[str, Any] | None) -> int:
        """Return how many frames of this frame's publisher were sent but never delivered before it."""
        return self.sequences.observe(*publication_of(info), self.publishers)

    def missed_unknown(self) -> str:
        """Say why undelivered frames cannot be counted ('' when they can)."""
        if not self.features.message_info_callbacks:
            return "this rclpy passes no message info to callbacks (Humble): no sequence numbers"
        if self.sequences.numbered is False:
            return f"{get_rmw_implementation_identifier()} gives no publication sequence numbers"
        return ""

    def missed_caveat(self) -> str:
        """Say what the count of undelivered frames leaves out ('' when nothing)."""
        if not self.sequences.unattributed:
            return ""
        return (
            f"{self.sequences.unattributed} frame(s) came while several publishers shared the "
            "topic, and this rclpy does not say which one sent each"
        )

    def on_message_lost(self, info: QoSMessageLostInfo) -> None:
        """Subscription event callback: DDS gave up on ``total_count_change`` samples."""
        self.lost_total = int(info.total_count)
        self._lost.append((time.monotonic(), int(info.total_count_change)))

    def lost_recently(self) -> int:
        """Return the frames lost in the last LOSS_WINDOW_S seconds."""
        horizon = time.monotonic() - LOSS_WINDOW_S
        while self._lost and self._lost[0][0] < horizon:
            self._lost.popleft()
        return sum(count for _, count in self._lost)

    def _risk_for(self, frame_bytes: int | None) -> str:
        """frame_loss_risk for this size (None: unknown), computed once per size."""
        if self._risk is None or self._risk[0] != frame_bytes:
            self._risk = (frame_bytes, frame_loss_risk(frame_bytes, self.best_effort))
        return self._risk[1]

    def warning(self) -> str:
        """Return an actionable warning about this camera's transport, or ''."""
        lost = self.lost_recently()
        window = f"in the last {LOSS_WINDOW_S:.0f} s"
        if not self.frame_bytes:  # nothing arrived: only DDS's lost samples can say more
            if not lost:
                return ""
            return f"{lost} frame(s) lost in transport {window} and none has arrived; " + (
                self._risk_for(None) or _SEE_TRANSPORT_DOCS
            )
        risk = self._risk_for(self.frame_bytes)
        if lost and self.frame_bytes > _LARGE_FRAME_BYTES:
            size = f"{self.frame_bytes / 1e6:.1f} MB"
            return f"{lost} frame(s) of {size} lost in transport {window}; " + (
                risk or _SEE_TRANSPORT_DOCS
            )
        if risk and self.losses_unreported:
            return f"{risk} (frames lost in transport are not counted: {self.losses_unreported})"
        return risk


def warn_about_transport(
    status: DiagnosticStatus, monitor: TransportMonitor | None, active: bool
) -> DiagnosticStatus:
    """Raise a camera status to WARN with the monitor's warning, and add the transport values."""
    if monitor is None:
        return status
    warning = monitor.warning() if active else ""
    lost = (
        f"not counted: {monitor.losses_unreported}"
        if monitor.losses_unreported
        else str(monitor.lost_total)
    )
    status.values.append(KeyValue(key="frames lost in transport", value=lost))
    status.values.append(KeyValue(key="transport warning", value=warning or "none"))
    if warning:
        if status.level == DiagnosticStatus.OK:
            status.level, status.message = DiagnosticStatus.WARN, warning
        elif status.level == DiagnosticStatus.WARN:
            status.message = f"{status.message}; {warning}"
    return status
