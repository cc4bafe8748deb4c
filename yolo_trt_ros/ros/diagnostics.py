"""diagnostic_msgs statuses for the detector and each camera, with levels that mean something.

Names follow diagnostic_aggregator conventions ("<node>: <part>", hardware_id set), so an
analyzer can group them by prefix. Levels:

* ERROR: the detector could not be configured, or frames are failing in processing.
* WARN: the node is active but a camera sends nothing, sends frames that cannot be used, or sends
  faster than the model so that most frames are dropped (lower the camera rate or use a faster
  backend); or the Jetson runs another power mode than the launch profile expects.
* OK: everything else, including a detector that is simply not active, frames skipped on purpose
  by the frame-rate cap, and a machine that is not a Jetson.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from yolo_trt_ros.jetson import PowerModeCheck
from yolo_trt_ros.ros.transport import warn_about_transport
from yolo_trt_ros.stream.stats import StatsSnapshot

if TYPE_CHECKING:  # for annotations only: gpu_memory alone must import without the messages
    from yolo_trt_ros.ros.cameras import Camera

__all__ = [
    "FRAME_OUTCOMES",
    "NO_INPUT_WARN_S",
    "camera_level",
    "camera_status",
    "detector_status",
    "gpu_memory",
    "node_statuses",
    "power_mode_status",
]

NO_INPUT_WARN_S = 5.0
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def _values(items: Mapping[str, object]) -> list[KeyValue]:
    return [KeyValue(key=key, value=str(value)) for key, value in items.items()]


def camera_level(stats: StatsSnapshot, active: bool, topic: str) -> tuple[bytes, str]:  # noqa: PLR0911
    """Return the level and one-line summary of a camera stream."""
    if not active:
        return OK, "not processing (node inactive)"
    if stats.errors_recently:
        return ERROR, f"{stats.errors_recently} frame(s) failed in processing: {stats.last_problem}"
    if stats.bad_recently:
        return WARN, f"{stats.bad_recently} unusable frame(s) dropped: {stats.last_problem}"
    if stats.seconds_since_input is None:
        return WARN, f"no image received on {topic} yet"
    if stats.seconds_since_input > NO_INPUT_WARN_S:
        return WARN, f"no image on {topic} for {stats.seconds_since_input:.0f} s"
    arrived = stats.dropped_recently + stats.published_recently
    if stats.dropped_recently > arrived / 2:
        return WARN, (
            f"dropping {stats.dropped_recently} of the last {arrived} frames: the camera "
            f"({stats.input_hz:.1f} Hz) is faster than the model; lower its rate or use a faster backend"
        )
    return (
        OK,
        f"{stats.input_hz:.1f} Hz in, {stats.output_hz:.1f} Hz out, p95 latency {stats.latency_p95_ms:.1f} ms",
    )


# Where each received frame went, as the camera's diagnostics name it: they add up to
# "frames received"
FRAME_OUTCOMES: Final = (
    "frames published",
    "frames dropped",
    "frames skipped (rate cap)",
    "bad frames",
    "processing errors",
    "frames in flight",
    "frames discarded (stopped)",
)


def camera_status(  # noqa: PLR0917 - one status needs all of these
    node_name: str,
    camera: str,
    topic: str,
    details: Mapping[str, object],
    stats: StatsSnapshot,
    active: bool,
    *,
    missed_unknown: str = "",
    missed_caveat: str = "",
) -> DiagnosticStatus:
    """Build the status of one camera stream.

    Every received frame is in exactly one of published, dropped, skipped, bad, processing errors,
    discarded or in flight. Frames that never reached the node are counted apart, from the
    publishers' sequence numbers; ``missed_unknown`` says why they cannot be ('' when they can),
    ``missed_caveat`` what the count leaves out ('' when nothing).
    """
    level, message = camera_level(stats, active, topic)
    missed: object = stats.missed
    sent: object = stats.received + stats.missed
    if missed_unknown:
        missed, sent = f"unknown: {missed_unknown}", "unknown"
    elif missed_caveat:
        missed, sent = f"{missed} (at least: {missed_caveat})", f"at least {sent}"
    values = {
        "topic": topic,
        **details,
        "input rate (Hz)": f"{stats.input_hz:.2f}",
        "output rate (Hz)": f"{stats.output_hz:.2f}",
        "latency p50 (ms)": f"{stats.latency_p50_ms:.2f}",
        "latency p95 (ms)": f"{stats.latency_p95_ms:.2f}",
        "latency max (ms)": f"{stats.latency_max_ms:.2f}",
        "frames received": stats.received,
        **dict(
            zip(
                FRAME_OUTCOMES,
                (
                    stats.published,
                    stats.dropped,
                    stats.skipped,
                    stats.bad_frames,
                    stats.errors,
                    stats.in_flight,
                    stats.discarded,
                ),
                strict=True,
            )
        ),
        "frames missed before the callback": missed,
        "frames sent (estimated)": sent,
        "last problem": stats.last_problem or "none",
    }
    return DiagnosticStatus(
        level=level,
        name=f"{node_name}: {camera}",
        message=message,
        hardware_id=topic,
        values=_values(values),
    )


_CUDA_DEVICE = re.compile(r"cuda:(\d+)")
_MIB = 1024 * 1024


def gpu_memory(device: str) -> str:
    """Describe the memory of the GPU a backend runs on (``device`` as the backend reports it).

    Asks the CUDA driver (cuMemGetInfo, through yolo_trt_ros.cuda.runtime) only for a cuda:N
    device, so a CPU machine never imports CUDA. The driver knows the whole GPU's use, not this
    process's share.
    """
    cuda = _CUDA_DEVICE.fullmatch(device)
    if cuda is None:
        if device.startswith("dla:"):
            return f"n/a ({device}: a DLA core; a Jetson's GPU and DLA share the system memory)"
        return "n/a (CPU backend)" if device == "cpu" else f"n/a (device {device})"
    try:
        from yolo_trt_ros.cuda.runtime import memory_info  # noqa: PLC0415 - GPU machines only
    except ImportError as error:
        return f"unknown: cuda-python is not installed ({error})"
    try:
        free, total = memory_info(int(cuda.group(1)))
    except Exception as error:  # noqa: BLE001 - a diagnostic must not fail the node
        return f"unknown: the CUDA driver did not answer ({type(error).__name__}: {error})"
    return (
        f"{(total - free) / _MIB:.0f} MiB used of {total / _MIB:.0f} MiB on {device} "
        "(whole GPU, every process)"
    )


def detector_status(
    node_name: str, state: str, facts: Mapping[str, object], last_error: str
) -> DiagnosticStatus:
    """Build the status of the detector itself: lifecycle state, engine facts, configure errors."""
    if last_error and state == "unconfigured":
        level, message = ERROR, f"configure failed: {last_error}"
    else:
        level, message = OK, state
    values = {"lifecycle state": state, **facts, "last error": last_error or "none"}
    return DiagnosticStatus(
        level=level,
        name=f"{node_name}: detector",
        message=message,
        hardware_id=node_name,
        values=_values(values),
    )


def power_mode_status(node_name: str, check: PowerModeCheck) -> DiagnosticStatus:
    """Build the status of the Jetson power mode (OK and "not a Jetson" elsewhere)."""
    return DiagnosticStatus(
        level=WARN if check.level == "WARN" else OK,
        name=f"{node_name}: power mode",
        message=check.summary,
        hardware_id=node_name,
        values=_values({"power mode": check.mode_name or "none", **check.details}),
    )


def node_statuses(  # noqa: PLR0917 - the node's whole state, as the statuses report it
    node_name: str,
    state: str,
    facts: Mapping[str, object],
    last_error: str,
    power_check: PowerModeCheck | None,
    cameras: Iterable[Camera],
) -> list[DiagnosticStatus]:
    """Every status of the detector node: the detector, the power mode (once read), each camera."""
    facts = dict(facts)
    if "GPU memory" in facts:  # asked again each time: it changes
        facts["GPU memory"] = gpu_memory(str(facts.get("device", "")))
    statuses = [detector_status(node_name, state, facts, last_error)]
    if power_check is not None:
        statuses.append(power_mode_status(node_name, power_check))
    active = state == "active"
    for camera in cameras:
        details = {
            "camera": camera.name,
            "input type": camera.input_type,
            "QoS": camera.qos_note or "not subscribed",
            "rate cap (Hz)": f"{camera.rate_cap.rate_hz:g}" if camera.rate_cap.rate_hz else "none",
        }
        status = camera_status(
            node_name,
            camera.name,
            camera.topic,
            details,
            camera.stats.snapshot(),
            active,
            missed_unknown=camera.transport.missed_unknown() if camera.transport else "",
            missed_caveat=camera.transport.missed_caveat() if camera.transport else "",
        )
        statuses.append(warn_about_transport(status, camera.transport, active))
    return statuses
