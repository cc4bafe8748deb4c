"""The detector node's power-mode awareness and frame-rate cap, end to end over real DDS.

nvpmodel cannot exist on this machine (no Jetson); the Jetson case runs the node with
test/fake_nvpmodel.py first on its PATH, which serves an Orin Nano's mode table and records calls.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from builtin_interfaces.msg import Time
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from fake_nvpmodel import FakeNvpmodel
from node_harness import (
    LATCHED,
    Collector,
    DetectorProcess,
    LifecycleClient,
    image_message,
    latest_statuses,
    publish_until,
    sensor_qos,
    spin_for,
    status_value,
)
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from test_nvpmodel import BOARDS
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.testing.sample_images import build_sample_images


def power_status(
    ros: RosHarness, diagnostics: Collector[DiagnosticArray], node: str
) -> DiagnosticStatus:
    ros.spin_until(
        lambda: "power mode" in latest_statuses(diagnostics, node), 30, "a power mode diagnostic"
    )
    return latest_statuses(diagnostics, node)["power mode"]


def test_not_a_jetson_and_the_rate_cap(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node, cap_hz = "detector_capped", 2.0
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            image_topics=["/capped/image"],
            max_rate_hz=cap_hz,
            expected_power_modes=["15W"],
            warmup_runs=0,
            autostart=True,
        )
    )
    engine = Collector(ros, EngineInfo, f"/{node}/engine_info", LATCHED)
    detections = Collector(ros, Detection2DArray, f"/{node}/detections")
    diagnostics = Collector(ros, DiagnosticArray, "/diagnostics")
    camera = ros.node.create_publisher(
        Image, "/capped/image", sensor_qos(ReliabilityPolicy.RELIABLE)
    )
    frame = image_message(build_sample_images()["bus"], Time(), "camera")
    publish_until(
        ros,
        lambda: camera.publish(frame),
        lambda: bool(detections.messages),
        timeout=60,
        what="detections",
    )

    status = power_status(ros, diagnostics, node)
    assert status.level == DiagnosticStatus.OK
    assert status.message.startswith("not a Jetson") and "15W not checked" in status.message
    ros.spin_until(lambda: bool(engine.messages), 10, "EngineInfo")
    assert engine.messages[-1].power_mode == ""

    # 20 frames/s for 2 s into a 2 Hz cap
    before, sent, start = len(detections.messages), 0, time.monotonic()
    while time.monotonic() - start < 2.0:
        camera.publish(frame)
        sent += 1
        spin_for(ros, 0.05)
    window = time.monotonic() - start
    spin_for(ros, 1.0)  # let the last admitted frame come out
    processed = len(detections.messages) - before
    print(f"rate cap {cap_hz} Hz: sent {sent} frames in {window:.1f} s, {processed} processed")
    # at most cap * window + 1 admitted arrivals, one admitted just before, one for jitter
    assert 1 <= processed <= cap_hz * window + 3

    def camera_status() -> DiagnosticStatus | None:
        return latest_statuses(diagnostics, node).get("capped")

    ros.spin_until(
        lambda: (
            (status := camera_status()) is not None
            and int(status_value(status, "frames skipped (rate cap)")) > 0
        ),
        5,
        "the skipped frames in diagnostics",
    )
    status = camera_status()
    assert status is not None and status_value(status, "rate cap (Hz)") == "2"
    assert status.level == DiagnosticStatus.OK  # skipping on purpose is not a problem
    received = int(status_value(status, "frames received"))
    accounted = sum(
        int(status_value(status, key))
        for key in ("frames published", "frames skipped (rate cap)", "frames dropped")
    )
    assert received - 1 <= accounted <= received


def test_power_mode_on_a_jetson_warns_and_switches_when_asked(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_jetson"
    nano_modes = BOARDS["orin_nano_8gb_super"][0]
    fake = FakeNvpmodel(tmp_path / "bin", nano_modes, current=0)  # 15W
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            env=os.environ | {"PATH": fake.path_env},
            expected_power_modes=["7W"],
            warmup_runs=0,
            autostart=True,
        )
    )
    engine = Collector(ros, EngineInfo, f"/{node}/engine_info", LATCHED)
    diagnostics = Collector(ros, DiagnosticArray, "/diagnostics")
    ros.spin_until(lambda: bool(engine.messages), 60, "EngineInfo")
    assert engine.messages[-1].power_mode == "15W"
    status = power_status(ros, diagnostics, node)
    assert status.level == DiagnosticStatus.WARN
    assert "running 15W but the launch profile is for 7W" in status.message
    assert "sudo nvpmodel -m 3" in status.message  # 7W's id on an Orin Nano, looked up by name
    assert not any(call.startswith("-m") for call in fake.calls)
    assert "power mode: running 15W" in detectors[0].log

    client = LifecycleClient(ros, node)
    # accepted, and the answer says it only applies at the next configure
    assert client.set_parameter("set_power_mode", True) == (
        True,
        "stored; applies at the next configure (cleanup + configure)",
    )
    assert client.transition("deactivate") and client.transition("cleanup")
    assert client.transition("configure")
    assert fake.current == 3 and "-m 3" in fake.calls
    ros.spin_until(
        lambda: engine.messages[-1].power_mode == "7W", 10, "EngineInfo after the switch"
    )
    ros.spin_until(
        lambda: "switched" in power_status(ros, diagnostics, node).message,
        10,
        "the switch reported",
    )
    status = power_status(ros, diagnostics, node)
    assert status.level == DiagnosticStatus.OK and "switched from 15W" in status.message
    assert status_value(status, "power mode") == "7W"


def test_power_mode_check_never_blocks_configure(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_refused"
    fake = FakeNvpmodel(tmp_path / "bin", BOARDS["agx_orin_64gb"][0], current=0, refuse=True)
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            env=os.environ | {"PATH": fake.path_env},
            expected_power_modes=["30W"],
            set_power_mode=True,
            warmup_runs=0,
        )
    )
    diagnostics = Collector(ros, DiagnosticArray, "/diagnostics")
    client = LifecycleClient(ros, node)
    assert client.transition("configure"), detectors[0].log
    status = power_status(ros, diagnostics, node)
    assert status.level == DiagnosticStatus.WARN and "Permission denied" in status.message
    assert "sudo nvpmodel -m 2" in status.message and fake.current == 0
