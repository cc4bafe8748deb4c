"""What the detector tells a user driving it with the ros2 CLI: the real executable over real DDS.

Each lifecycle step, a parameter that applies only at the next configure and a node that waits
for a lifecycle manager must be visible in the log or in the service answer, never silent.
"""

from __future__ import annotations

from pathlib import Path

from conftest import RosHarness
from node_harness import DetectorProcess, LifecycleClient


def wait_for_log(ros: RosHarness, process: DetectorProcess, text: str) -> None:
    ros.spin_until(lambda: text in process.log, 60, f"'{text}' in the log of {process.name}")


def test_without_autostart_the_node_says_what_it_waits_for(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_waiting"
    process = DetectorProcess(node, tmp_path, warmup_runs=0)
    detectors.append(process)
    client = LifecycleClient(ros, node)
    assert client.state() == "unconfigured"
    wanted = f"waiting for a lifecycle manager or `ros2 lifecycle set /{node} configure`"
    ros.spin_until(lambda: wanted in process.log, 30, "the waiting line in the log")


def test_every_transition_is_logged_and_a_finalized_node_ends_its_process(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_transitions"
    process = DetectorProcess(node, tmp_path, warmup_runs=0)
    detectors.append(process)
    client = LifecycleClient(ros, node)
    expected = {
        "configure": "configured in",
        "activate": "active: watching",
        "deactivate": "inactive: stopped watching",
        "cleanup": "unconfigured: model and outputs released",
    }
    for transition, line in expected.items():
        assert client.transition(transition), f"{transition} failed:\n{process.log[-2000:]}"
        wait_for_log(ros, process, line)
    assert client.transition("shutdown")
    assert process.process.wait(timeout=30) == 0, process.log[-2000:]
    assert "finalized: shut down, the process exits" in process.log


def test_a_parameter_for_the_next_configure_says_so_in_the_answer(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_later_parameter"
    detectors.append(DetectorProcess(node, tmp_path, warmup_runs=0))
    client = LifecycleClient(ros, node)
    # unconfigured: every value applies at the coming configure, nothing to say
    assert client.set_parameter("max_rate_hz", 5.0) == (True, "")
    assert client.transition("configure")
    later = "stored; applies at the next configure (cleanup + configure)"
    assert client.set_parameter("max_rate_hz", 2.0) == (True, later)
    assert client.set_parameter("confidence_threshold", 0.4) == (True, "")  # live


def test_logs_name_the_resolved_topics_of_a_node_in_a_namespace(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_named"
    process = DetectorProcess(node, tmp_path, namespace="/front", warmup_runs=0, autostart=True)
    detectors.append(process)
    wanted = "active: watching /front/image"
    ros.spin_until(lambda: wanted in process.log, 60, f"'{wanted}' in the log")
    # one camera is named from its resolved topic, not "camera0" (from "image")
    assert "front: subscribed to /front/image" in process.log, process.log[-2000:]
    assert "camera0" not in process.log
