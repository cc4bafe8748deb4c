"""Every status the detector node reports (yolo_trt_ros.ros.diagnostics.node_statuses), in-process.

Real cameras with real counters (frames arrive through yolo_trt_ros.ros.cameras.arrive), a real
transport monitor and power-mode check; the statuses are the real diagnostic_msgs messages.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus
from test_cameras import clock, image, make_camera

from yolo_trt_ros.jetson import PowerModeCheck
from yolo_trt_ros.ros.cameras import Frame, arrive
from yolo_trt_ros.ros.diagnostics import node_statuses
from yolo_trt_ros.ros.transport import TransportMonitor
from yolo_trt_ros.stream import NewestFrameMailbox

NODE = "/robot/yolo_detector"


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {item.key: item.value for item in status.values}


def test_an_unconfigured_node_reports_the_detector_only_with_its_error() -> None:
    (status,) = node_statuses(NODE, "unconfigured", {}, "no such model", None, [])
    assert status.name == f"{NODE}: detector" and status.level == DiagnosticStatus.ERROR
    assert status.message == "configure failed: no such model"


def test_an_active_node_reports_detector_power_mode_and_each_camera() -> None:
    front, rear = make_camera(name="front", rate_hz=15.0), make_camera(name="rear")
    rear.transport = TransportMonitor(best_effort=True)
    front.qos_note = "best effort, matching 1 best-effort publisher(s)"
    mailbox: NewestFrameMailbox[Frame] = NewestFrameMailbox()
    arrive(front, image(1), None, mailbox, max_pixels=10**6, now_ns=clock())
    facts = {"backend": "onnxruntime 1.x", "device": "cpu", "GPU memory": "stale"}
    check = PowerModeCheck("WARN", "15W, expected 7W", "15W")
    statuses = node_statuses(NODE, "active", facts, "", check, [front, rear])
    assert [s.name for s in statuses] == [
        f"{NODE}: detector",
        f"{NODE}: power mode",
        f"{NODE}: front",
        f"{NODE}: rear",
    ]
    detector, power, front_status, rear_status = statuses
    assert detector.level == DiagnosticStatus.OK and detector.message == "active"
    assert values(detector)["GPU memory"] == "n/a (CPU backend)"  # asked again, not the old value
    assert facts["GPU memory"] == "stale"  # the node's facts are left as they are
    assert power.level == DiagnosticStatus.WARN and power.message == "15W, expected 7W"
    front_values = values(front_status)
    assert front_values["camera"] == "front" and front_values["input type"] == "raw"
    assert front_values["QoS"] == front.qos_note and front_values["rate cap (Hz)"] == "15"
    assert front_values["frames received"] == "1" and front_values["frames in flight"] == "1"
    assert "frames lost in transport" not in front_values  # no monitor: never subscribed
    rear_values = values(rear_status)
    assert rear_values["QoS"] == "not subscribed" and rear_values["rate cap (Hz)"] == "none"
    assert rear_values["frames lost in transport"] == "0"
    assert rear_status.level == DiagnosticStatus.WARN  # active, and nothing received yet
    assert rear_status.message == "no image received on /rear/image yet"


def test_an_inactive_node_reports_its_cameras_as_ok() -> None:
    camera = make_camera()
    (_, status) = node_statuses(NODE, "inactive", {}, "", None, [camera])
    assert status.level == DiagnosticStatus.OK
    assert status.message == "not processing (node inactive)"
