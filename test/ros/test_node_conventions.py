"""ROS conventions a user meets with the ros2 tools: LabelInfo beside the detections and following
the live threshold, the diagnostics period, the diagnostic_aggregator analyzers, GPU memory.

The node tests run the real detector process over real DDS (test/node_harness.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, RosHarness
from diagnostic_msgs.msg import DiagnosticArray
from node_harness import (
    LATCHED,
    Collector,
    DetectorProcess,
    LifecycleClient,
    latest_statuses,
    spin_for,
    status_value,
)
from vision_msgs.msg import LabelInfo

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.jetson import PowerModeCheck
from yolo_trt_ros.ros import diagnostics
from yolo_trt_ros.settings import DetectorConfig
from yolo_trt_ros.stream import StreamStats

ANALYZERS = REPO_ROOT / "config" / "diagnostic_aggregator.yaml"


def _generic_analyzers(group: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (output path, analyzer) for every GenericAnalyzer, through AnalyzerGroups."""
    for key, value in group.items():
        if not isinstance(value, dict) or "type" not in value:
            continue
        here = f"{path}/{value['path']}"
        if value["type"] == "diagnostic_aggregator/AnalyzerGroup":
            yield from _generic_analyzers(value["analyzers"], here)
        else:
            assert value["type"] == "diagnostic_aggregator/GenericAnalyzer", key
            yield here, value


def analyzer_paths(name: str) -> list[str]:
    """The analyzers of config/diagnostic_aggregator.yaml that take a status name.

    Matched as GenericAnalyzer matches: regex against the whole name, startswith, contains, name.
    """
    root = yaml.safe_load(ANALYZERS.read_text())["analyzers"]["ros__parameters"]
    found = []
    for path, analyzer in _generic_analyzers(root):
        if (
            any(re.fullmatch(pattern, name) for pattern in analyzer.get("regex", []))
            or any(name.startswith(prefix) for prefix in analyzer.get("startswith", []))
            or any(part in name for part in analyzer.get("contains", []))
            or name in analyzer.get("name", [])
        ):
            found.append(path)
    return found


def test_the_analyzers_take_each_status_the_detector_names() -> None:
    root = yaml.safe_load(ANALYZERS.read_text())["analyzers"]["ros__parameters"]
    assert root["path"] == "Aggregation"
    assert len(list(_generic_analyzers(root))) == 3
    stats = StreamStats().snapshot()
    for node in ("/yolo_detector", "/robot/front/yolo_detector", "/front_detector"):
        names = {
            diagnostics.detector_status(node, "active", {}, "").name: "Detector",
            diagnostics.power_mode_status(node, PowerModeCheck("OK", "not a Jetson")).name: (
                "Power mode"
            ),
            diagnostics.camera_status(node, "front_camera", "/c", {}, stats, True).name: "Cameras",
            diagnostics.camera_status(node, "camera0", "/c", {}, stats, True).name: "Cameras",
        }
        for name, part in names.items():
            assert analyzer_paths(name) == [f"/YOLO detector/{part}"], name
    for other in ("/camera_driver: front", "/yolo_detector_driver: detector", "detector: x"):
        assert analyzer_paths(other) == [], other


def test_gpu_memory_without_a_gpu_backend_imports_no_cuda() -> None:
    code = (
        "import sys; from yolo_trt_ros.ros.diagnostics import gpu_memory; "
        "print(gpu_memory('cpu')); print(gpu_memory('dla:0')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cuda' or 'cuda.' in m))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    cpu, dla, cuda_modules = result.stdout.splitlines()
    assert cpu == "n/a (CPU backend)"
    assert dla.startswith("n/a (dla:0: a DLA core")
    assert cuda_modules == "[]"


def test_gpu_memory_of_a_cuda_device_is_asked_of_the_driver() -> None:
    answer = diagnostics.gpu_memory("cuda:0")
    try:
        from cuda.bindings import driver  # noqa: F401 - present on GPU machines only
    except ImportError:
        assert answer.startswith("unknown: cuda-python is not installed"), answer
        return
    used = re.fullmatch(
        r"(\d+) MiB used of (\d+) MiB on cuda:0 \(whole GPU, every process\)", answer
    )
    if used is None:  # cuda-python without a usable GPU: the driver's own reason
        assert answer.startswith("unknown: the CUDA driver did not answer"), answer
    else:
        assert 0 <= int(used.group(1)) <= int(used.group(2)) > 0


def _thresholds(collector: Collector[LabelInfo]) -> list[float]:
    return [round(message.threshold, 3) for message in collector.messages]


def test_label_info_beside_each_camera_follows_the_live_threshold(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    namespace, name = "/yard", "conv_detector"
    node = f"yard/{name}"
    detectors.append(
        DetectorProcess(
            name,
            tmp_path,
            namespace=namespace,
            image_topics=["/yard/left/image", "/yard/right/image"],
            camera_names=["left", "right"],
            warmup_runs=0,
            diagnostics_period=60.0,  # nothing before the test shortens it
            autostart=True,
        )
    )
    labels = {
        topic: Collector(ros, LabelInfo, f"/{node}/{topic}", LATCHED)
        for topic in ("label_info", "left/label_info", "right/label_info")
    }
    diagnostic_arrays = Collector(ros, DiagnosticArray, "/diagnostics")
    ros.spin_until(
        lambda: all(c.messages for c in labels.values()),
        timeout=60,
        what=f"LabelInfo on {', '.join(labels)}",
    )
    for collector in labels.values():
        assert _thresholds(collector) == [0.25]
        assert collector.messages[0].class_map[5].class_name == "bus"

    lifecycle = LifecycleClient(ros, node)
    assert lifecycle.set_parameter("confidence_threshold", 0.6) == (True, "")
    ros.spin_until(
        lambda: all(_thresholds(c)[-1:] == [0.6] for c in labels.values()),
        timeout=10,
        what="LabelInfo republished with threshold 0.6",
    )

    # the period applies at once (no "applies at the next configure"), and it is validated
    assert lifecycle.set_parameter("diagnostics_period", 0.0)[0] is False
    assert lifecycle.set_parameter("diagnostics_period", 0.2) == (True, "")
    ros.spin_until(
        lambda: {"detector", "left", "right"} <= set(latest_statuses(diagnostic_arrays, node)),
        timeout=30,  # the 60 s period would send nothing in this time
        what="diagnostics at the new period",
    )
    spin_for(ros, 1.0)
    names = {s.name for a in diagnostic_arrays.messages for s in a.status if node in s.name}
    assert names == {
        f"/{node}: detector",
        f"/{node}: power mode",
        f"/{node}: left",
        f"/{node}: right",
    }
    for status_name in names:
        assert len(analyzer_paths(status_name)) == 1, status_name
    detector = latest_statuses(diagnostic_arrays, node)["detector"]
    assert status_value(detector, "GPU memory") == "n/a (CPU backend)"
    assert "diagnostics every 0.2 s" in detectors[0].log


@pytest.mark.parametrize("value", [0.05, 61.0])
def test_the_diagnostics_period_is_range_checked(value: float) -> None:
    with pytest.raises(InvalidSettingError, match="parameter diagnostics_period"):
        DetectorConfig(diagnostics_period=value)
