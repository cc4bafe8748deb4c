"""Replay bookkeeping without ROS: matching answers to frames, statuses, pacing, report, comparison.

Expected values are worked out by hand from the scenario in each test, or computed with the
standard library's statistics module (independent of the numpy code under test).
"""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
from pathlib import Path

import cv2
import pytest

from yolo_trt_ros.errors import ReportError
from yolo_trt_ros.replay.bag import BagFrame
from yolo_trt_ros.replay.compare import compare_reports, render_comparison
from yolo_trt_ros.replay.ledger import FrameLedger, StageTimes
from yolo_trt_ros.replay.pacing import loop_span_ns, timeline
from yolo_trt_ros.replay.prefetch import Prefetcher
from yolo_trt_ros.replay.report import build_report, load_report, write_report
from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks

MS = 1_000_000


def _times(  # noqa: PLR0917 - mirrors the message fields
    receive_ns: int, pre: float, infer: float, post: float, total: float, dropped: int = 0
) -> StageTimes:
    return StageTimes(receive_ns, pre, infer, post, total, dropped)


def test_statuses_detected_dropped_missing() -> None:
    ledger = FrameLedger()
    for index in range(6):
        ledger.sent("/a", stamp_ns=100 + index, sent_ns=index * 10 * MS)
    ledger.sent("/b", stamp_ns=100, sent_ns=5 * MS)  # same stamp, other topic: a different frame
    for stamp in (100, 103):
        ledger.detections("/a", stamp, count=2, arrival_ns=(stamp - 100) * 10 * MS + 40 * MS)
    ledger.detections("/b", 100, count=1, arrival_ns=30 * MS)
    records = ledger.finish()
    statuses = {(r.topic, r.stamp_ns): r.status for r in records}
    assert statuses == {
        ("/a", 100): "detected",
        ("/a", 101): "dropped",  # a later frame (103) was answered
        ("/a", 102): "dropped",
        ("/a", 103): "detected",
        ("/a", 104): "missing",  # nothing after it was answered
        ("/a", 105): "missing",
        ("/b", 100): "detected",
    }
    assert records[0].latencies_ms()["end_to_end"] == pytest.approx(40.0)
    assert records[6].latencies_ms()["end_to_end"] == pytest.approx(25.0)


def test_a_repeated_stamp_belongs_to_the_latest_frame_and_answers_may_come_first() -> None:
    ledger = FrameLedger()
    first = ledger.sent("/a", 7, sent_ns=0)
    second = ledger.sent("/a", 7, sent_ns=100 * MS)  # looped bag, original stamps
    ledger.detections("/a", 7, 3, arrival_ns=150 * MS)
    assert second.answered and not first.answered
    # the probe may see an answer before the image it belongs to
    ledger.detections("/a", 8, 1, arrival_ns=300 * MS)
    ledger.timing("/a", 8, _times(290 * MS, 1, 2, 3, 6))
    late = ledger.sent("/a", 8, sent_ns=280 * MS)
    assert late.answered and late.timing is not None
    ledger.detections("/a", 99, 1)  # nothing was sent with this stamp
    assert ledger.unmatched == {"detections": 1, "timings": 0}


def test_stage_latencies_add_up_to_end_to_end() -> None:
    ledger = FrameLedger()
    record = ledger.sent("/a", 1, sent_ns=1_000 * MS)
    ledger.timing("/a", 1, _times(1_004 * MS, pre=2.0, infer=30.0, post=3.0, total=40.0))
    ledger.detections("/a", 1, 5, arrival_ns=1_046 * MS)
    latencies = record.latencies_ms()
    assert latencies["transport_in"] == pytest.approx(4.0)
    assert latencies["wait"] == pytest.approx(5.0)  # 40 in the node - (2 + 30 + 3) working
    assert latencies["transport_out"] == pytest.approx(2.0)  # 46 - 4 - 40
    stages = ("transport_in", "wait", "preprocess", "inference", "postprocess", "transport_out")
    assert sum(latencies[s] or 0.0 for s in stages) == pytest.approx(latencies["end_to_end"] or 0.0)


def test_closed_loop_waiting_and_quiet_end() -> None:
    ledger = FrameLedger()
    record = ledger.sent("/a", 1)
    assert ledger.wait_for_answer(record, timeout_s=0.05) is False
    ledger.detections("/a", 1, 0)
    assert ledger.wait_for_answer(record, timeout_s=0.05) is True
    ledger.sent("/a", 2)
    assert ledger.wait_until_quiet(quiet_s=0.05) is False  # frame 2 never answered
    assert ledger.counts == (2, 1)


def test_timeline_keeps_recorded_spacing_and_lays_loops_end_to_end() -> None:
    frames = [BagFrame("/a", t, t, b"") for t in (1_000 * MS, 1_100 * MS, 1_300 * MS)]
    timed = list(timeline(lambda: frames, loops=2))
    # one pass spans 300 ms plus one average gap (150 ms)
    assert loop_span_ns(1_000 * MS, 1_300 * MS, 3) == 450 * MS
    assert [(t.loop, t.offset_ns // MS) for t in timed] == [
        (0, 0),
        (0, 100),
        (0, 300),
        (1, 450),
        (1, 550),
        (1, 750),
    ]
    assert timed[5].due_s(rate=2.0) == pytest.approx(0.375)
    assert loop_span_ns(5, 5, 1) == 100 * MS  # one frame: loop at 10 Hz


def test_prefetcher_hands_on_items_then_the_source_error() -> None:
    def source():  # type: ignore[no-untyped-def]
        yield 1
        yield 2
        raise ValueError("bag damaged")

    got = []
    with pytest.raises(ValueError, match="bag damaged"):
        for item in Prefetcher(source(), size=1):
            got.append(item)
    assert got == [1, 2]


def _scenario() -> tuple[dict[str, object], list[float], list[float]]:
    """Ten frames: eight answered with timing, two dropped; returns report, e2e and inference."""
    ledger = FrameLedger()
    end_to_end, inference = [], []
    for index in range(10):
        sent = index * 100 * MS
        ledger.sent("/cam", index, sent_ns=sent, bag_time_ns=sent)
        if index in (3, 6):
            continue  # dropped: later frames are answered
        infer = 20.0 + index * 1.5
        ledger.timing(
            "/cam",
            index,
            _times(
                sent + 2 * MS, 1.0, infer, 2.0, infer + 4.0, dropped=1 if index in (4, 7) else 0
            ),
        )
        arrival = sent + round((infer + 7.0) * MS)
        ledger.detections("/cam", index, index % 3, arrival_ns=arrival)
        end_to_end.append((arrival - sent) / MS)
        inference.append(infer)
    report = build_report(
        ledger.finish(),
        {
            "tool": "replay",
            "source": "test.bag",
            "topics": ["/cam"],
            "mode": "recorded rate x1",
            "label": "base",
        },
        {"received": 10, "published": 8, "dropped": 2, "bad_frames": 0},
        ledger.unmatched,
    )
    return report, end_to_end, inference


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def test_report_summary_matches_an_independent_computation() -> None:
    report, end_to_end, inference = _scenario()
    summary = report["summary"]
    # answered: every index but 3 and 6; frames with index % 3 == 0 (0 and 9) found no objects
    assert summary["frames"] == {  # type: ignore[index]
        "sent": 10,
        "detected": 8,
        "dropped": 2,
        "missing": 0,
        "without_output": 2,
        "with_timing": 8,
        "with_no_objects": 2,
    }
    assert summary["detector_reported_drops"] == 2  # type: ignore[index]
    e2e = summary["latency_ms"]["end_to_end"]  # type: ignore[index]
    assert e2e["count"] == 8
    assert e2e["p50"] == pytest.approx(statistics.median(end_to_end))
    assert e2e["p90"] == pytest.approx(_percentile(end_to_end, 90))
    assert e2e["p99"] == pytest.approx(_percentile(end_to_end, 99))
    assert e2e["max"] == pytest.approx(max(end_to_end))
    assert summary["latency_ms"]["inference"]["p50"] == pytest.approx(statistics.median(inference))  # type: ignore[index]
    assert summary["throughput"]["input_fps"] == pytest.approx(10.0)  # type: ignore[index]


def test_report_files_json_csv_text_and_plots(tmp_path: Path) -> None:
    report, _, _ = _scenario()
    files = write_report(report, tmp_path / "out")
    names = sorted(f.name for f in files)
    assert names == sorted(
        [
            "report.json",
            "frames.csv",
            "summary.txt",
            "latency_cdf.png",
            "latency_over_time.png",
            "stage_breakdown.png",
        ]
    )
    assert load_report(tmp_path / "out") == json.loads(json.dumps(report))
    with (tmp_path / "out" / "frames.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows].count("dropped") == 2 and len(rows) == 10
    for png in (f for f in files if f.suffix == ".png"):
        image = cv2.imread(str(png))
        assert image is not None and image.shape[0] > 300 and image.shape[1] > 600
    text = (tmp_path / "out" / "summary.txt").read_text()
    assert "10 sent: 8 detected, 2 dropped" in text
    assert "received 10 of them, published 8, dropped 2" in text
    assert len(text.splitlines()) <= 25, "the text summary fits one screen"


def test_compare_two_reports(tmp_path: Path) -> None:
    base, _, _ = _scenario()
    faster = json.loads(json.dumps(base))
    for frame in faster["frames"]:
        for key in ("end_to_end_ms", "inference_ms"):
            if frame[key] is not None:
                frame[key] /= 2
    for key in ("end_to_end", "inference"):
        for name in ("p50", "p90", "p99", "max"):
            faster["summary"]["latency_ms"][key][name] /= 2
    comparison = compare_reports({"fp16": base, "int8": faster})
    ratios = comparison["ratios"]["int8/fp16"]["latency_ms"]
    assert ratios["end_to_end"]["p50"] == pytest.approx(0.5)
    assert ratios["preprocess"]["p50"] == pytest.approx(1.0)
    text = render_comparison(comparison)
    assert "int8/fp16" in text and "0.50x" in text

    for index, report in enumerate((base, faster)):
        write_report(report, tmp_path / f"r{index}", plots=False)
    compare = executables_where_ros2_run_looks()["compare_reports"]
    completed = subprocess.run(
        [
            str(compare),
            str(tmp_path / "r0"),
            str(tmp_path / "r1" / "report.json"),
            "--labels",
            "fp16",
            "int8",
            "--out",
            str(tmp_path / "cmp"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "end_to_end p50 (ms)" in completed.stdout
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == {
        "comparison.json",
        "comparison.txt",
        "comparison.png",
    }


def test_compare_refuses_files_that_are_not_reports(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ReportError, match="not a replay report"):
        load_report(tmp_path / "other.json")
    compare = executables_where_ros2_run_looks()["compare_reports"]
    completed = subprocess.run(
        [str(compare), str(tmp_path / "other.json"), str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2 and "not a replay report" in completed.stderr
