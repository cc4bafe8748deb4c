"""The transport and JPEG benchmarks run end to end and report what they measured (tiny runs).

These check that the scripts work and that their JSON holds real measurements; the numbers
themselves are read by people (docs/transport.md), never asserted here.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / script), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(out.read_text())
    assert json.loads(done.stdout) == report  # the same JSON on stdout
    return report


def test_transport_benchmark_delivers_frames_with_the_shipped_setup(tmp_path: Path) -> None:
    report = _run(
        "bench_transport.py",
        *("--frames", "20", "--sizes", "640x480", "--formats", "raw", "--paths", "serialized"),
        *("--configs", "shipped", "--plot", str(tmp_path / "plot.png")),
        tmp_path=tmp_path,
    )
    cases = report["cases"]
    assert isinstance(cases, list) and len(cases) == 2  # RELIABLE and BEST_EFFORT
    for case in cases:
        assert case["config"] == "shipped" and case["sent"] == 20
        assert case["received"] >= 15, case  # shared memory: none should be lost
        assert 0 < case["delivery_ms_p50"] <= case["pixels_ms_p50"], case
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_jpeg_benchmark_times_opencv_and_explains_missing_gpu_decoders(tmp_path: Path) -> None:
    report = _run(
        "bench_jpeg_decode.py",
        *("--iterations", "3", "--sizes", "640x480"),
        tmp_path=tmp_path,
    )
    results = report["results"]
    assert isinstance(results, list)
    by_name = {r["decoder"]: r for r in results}
    assert by_name["opencv"]["ms_p50"] > 0 and by_name["opencv"]["jpeg_bytes"] > 10_000
    unavailable = report["unavailable"]
    assert isinstance(unavailable, dict)
    for name in ("nvimgcodec", "nvimgcodec_on_device", "torchvision_cuda"):
        assert (name in by_name) != (name in unavailable), name  # timed, or said why not


def test_node_benchmark_measures_the_detector_node_end_to_end(tmp_path: Path) -> None:
    report = _run(
        "bench_node.py",
        *("--sizes", "640x480", "--formats", "raw", "--frames", "12", "--warmup", "2"),
        *("--rate", "5", "--answer-timeout", "2", "--backend", "onnxruntime"),
        *("--pipeline-bench", "--leg-iterations", "3", "--leg-warmup", "1"),
        *("--plot", str(tmp_path / "plot.png")),
        tmp_path=tmp_path,
    )
    engine = report["engine"]
    assert isinstance(engine, dict) and engine["backend"] == "onnxruntime", engine
    node = report["node"]
    assert isinstance(node, dict) and node["exit_status"] == 0, node  # stopped cleanly
    cases = report["cases"]
    assert isinstance(cases, list) and len(cases) == 1
    case = cases[0]
    assert (case["size"], case["format"], case["frames_sent"]) == ("640x480", "raw", 12)
    assert case["detections_received"] > 0, case
    assert case["frames_received_by_node"] is None or case["frames_received_by_node"] > 0
    latency = case["latency_ms"]
    assert 0 < latency["min"] <= latency["p50"] <= latency["p95"] <= latency["max"], latency
    stages = case["node_stage_ms_p50"]
    assert 0 < stages["inference"] < stages["total"] <= latency["p50"], stages
    assert case["objects_per_frame"]["p50"] > 0  # a real photo, not a blank frame
    legs = report["legs"]
    assert isinstance(legs, dict)
    assert ("skipped" in legs["pipeline"]) != ("sizes" in legs["pipeline"])  # measured, or why not
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_node_benchmark_serves_several_cameras_from_one_node(tmp_path: Path) -> None:
    report = _run(
        "bench_node.py",
        *("--sizes", "320x240", "--formats", "jpeg", "--cameras", "2", "--frames", "6"),
        *("--warmup", "1", "--rate", "2", "--answer-timeout", "2", "--backend", "onnxruntime"),
        tmp_path=tmp_path,
    )
    command = report["node"]["command"]  # type: ignore[index]
    topics = ["/bench_node/camera0/jpeg", "/bench_node/camera1/jpeg"]
    assert f"image_topics:=['{topics[0]}', '{topics[1]}']" in command, command
    assert "input_types:=['compressed', 'compressed']" in command, command
    cases = report["cases"]
    assert isinstance(cases, list) and len(cases) == 1
    case = cases[0]
    assert (case["cameras"], case["topics"], case["frames_sent"]) == (2, topics, 12), case
    # the node's counters over the measured frames only, not the warm-up's (one per camera)
    assert case["frames_received_by_node"] in (None, 12), case["node_counters"]
    per_camera = case["per_camera"]
    assert sorted(per_camera) == topics, per_camera
    for topic, seen in per_camera.items():  # each camera: all sent, answered or overtaken
        assert seen["sent"] == 6 and seen["detected"] > 0, (topic, seen)
        assert seen["detected"] + seen["dropped"] == 6, (topic, seen)
    assert report["summary"]["every_case_answered"] is True  # type: ignore[index]


def _script(name: str) -> ModuleType:
    """Import scripts/<name>.py as a module (its module level needs only the standard library)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the script runs
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


class _VirtualClock:
    """Stands in for the script's ``time`` module: only sleep() moves it on, so the schedule that
    send_frames keeps is exact, whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        return self.now

    def time_ns(self) -> int:
        return round(self.now * 1e9)

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_several_cameras_take_turns_spread_evenly_over_each_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = _script("bench_node")
    monkeypatch.setattr(bench, "time", _VirtualClock())
    topics = ["/cam0", "/cam1", "/cam2", "/cam3"]
    published: list[tuple[str, int, str]] = []  # topic, stamp (ns), frame id

    class Publisher:
        def __init__(self, topic: str) -> None:
            self.topic = topic

        def publish(self, msg: Any) -> None:
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            published.append((self.topic, stamp, msg.header.frame_id))

    client = SimpleNamespace(topics={"raw": topics}, publishers={t: Publisher(t) for t in topics})
    msg = SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=0, nanosec=0)))
    recorded: list[tuple[str, int]] = []
    ledger = SimpleNamespace(sent=lambda topic, stamp, _seen: recorded.append((topic, stamp)))

    result = bench.send_frames(client, "raw", msg, ledger, count=3, rate_hz=10.0)

    assert [topic for topic, _, _ in published] == topics * 3  # each camera in turn, every period
    assert [frame for _, _, frame in published] == ["0"] * 4 + ["1"] * 4 + ["2"] * 4
    stamps = [stamp for _, stamp, _ in published]
    # 10 Hz per camera, four cameras: a frame every 25 ms, each camera's every 100 ms
    assert [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)] == pytest.approx([25.0] * 11)
    assert recorded == [(topic, stamp) for topic, stamp, _ in published]  # stamped as sent
    assert result["max_send_lag_ms"] == 0.0


def test_first_frame_benchmark_reports_when_the_node_answered(tmp_path: Path) -> None:
    report = _run(
        "bench_first_frame.py",
        *("--runs", "1", "--size", "320x240", "--settle", "0.5"),
        *("--log", str(tmp_path / "node.log")),
        tmp_path=tmp_path,
    )
    cases = report["cases"]
    assert isinstance(cases, dict) and set(cases) == {"camera_first", "node_first"}
    for case in cases.values():
        (run,) = case["runs"]
        assert run["first_detection_s"] is not None, run  # the node answered the camera
        assert run["qos"].startswith("reliable"), run  # and matched its RELIABLE publisher
        assert case["median"]["first_detection_s"] == run["first_detection_s"]


def test_hostile_soak_runs_every_phase_against_a_live_node(tmp_path: Path) -> None:
    report = _run(
        "soak_hostile.py",
        *("--frames", "60", "--requests", "9", "--cycles", "2", "--normal-seconds", "1"),
        *("--largest", "0"),
        tmp_path=tmp_path,
    )
    assert "error" not in report and report["crashed"] is False and report["exit_code"] == 0
    hostile = report["hostile_frames"]
    assert isinstance(hostile, dict) and hostile["frames_sent"] == 60
    assert hostile["good_frames_detected"] > 0 and hostile["peak_rss_mb"] > 0
    assert hostile["accounting_closes"] == {"raw": True, "jpeg": True}, hostile["diagnostics"]
    requests = report["requests"]
    assert isinstance(requests, dict) and requests["answered"] == requests["sent"] == 9
    lifecycle = report["lifecycle"]
    assert isinstance(lifecycle, dict) and lifecycle["failed_cycles"] == 0
    assert len(lifecycle["rss_mb"]) == 2 and report["still_detecting"] is True
