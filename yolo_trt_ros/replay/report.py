"""The replay report: per-frame records and a summary as JSON and CSV, a text summary, and plots.

    report = build_report(ledger.finish(), run={...}, detector_counts=..., unmatched=...)
    files = write_report(report, Path("replay_report"))   # report.json, frames.csv, summary.txt, *.png
    print(render_text(report))

Latencies are in milliseconds; percentiles interpolate linearly (numpy's default). The summary
holds, per stage and end to end, count, mean, min, p50, p90, p99 and max over the detected frames.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from yolo_trt_ros.errors import ReportError
from yolo_trt_ros.replay.ledger import DETECTED, DROPPED, MISSING, STAGES, FrameRecord

__all__ = [
    "LATENCY_KEYS",
    "REPORT_SCHEMA",
    "build_report",
    "latency_table",
    "load_report",
    "render_text",
    "summary_stats",
    "write_report",
]

REPORT_SCHEMA = "yolo_trt_ros/replay-report/1"
LATENCY_KEYS = ("end_to_end", "node_total", *STAGES)
_LABELS = {
    "end_to_end": "end to end",
    "node_total": "in the detector",
    "transport_in": "  transport in",
    "wait": "  wait for model",
    "preprocess": "  preprocess",
    "inference": "  inference",
    "postprocess": "  postprocess",
    "transport_out": "  transport out",
}
_PERCENTILES = (50, 90, 99)


def summary_stats(values: Sequence[float]) -> dict[str, float | int]:
    """Return count, mean, min, p50, p90, p99 and max of some latencies (count only when empty)."""
    if not values:
        return {"count": 0}
    array = np.asarray(values, dtype=np.float64)
    stats: dict[str, float | int] = {
        "count": int(array.size),
        "mean": float(array.mean()),
        "min": float(array.min()),
    }
    for percentile, value in zip(_PERCENTILES, np.percentile(array, _PERCENTILES), strict=True):
        stats[f"p{percentile}"] = float(value)
    stats["max"] = float(array.max())
    return stats


def _frame_row(record: FrameRecord, origin_ns: int) -> dict[str, Any]:
    latencies = record.latencies_ms()
    return {
        "index": record.index,
        "topic": record.topic,
        "loop": record.loop,
        "status": record.status,
        "stamp_ns": record.stamp_ns,
        "bag_time_ns": record.bag_time_ns,
        "sent_s": (record.sent_ns - origin_ns) / 1e9,
        "detections": record.detections,
        **{f"{key}_ms": latencies[key] for key in LATENCY_KEYS},
        "frames_dropped_reported": None if record.timing is None else record.timing.frames_dropped,
    }


def _throughput(records: Sequence[FrameRecord]) -> dict[str, float]:
    if not records:
        return {"duration_s": 0.0, "input_fps": 0.0, "output_fps": 0.0}
    first, last_sent = records[0].sent_ns, max(r.sent_ns for r in records)
    answers = [r.answered_ns for r in records if r.answered_ns is not None]
    end = max([last_sent, *answers])
    duration = (end - first) / 1e9
    sending = (last_sent - first) / 1e9
    return {
        "duration_s": duration,
        "input_fps": (len(records) - 1) / sending if sending > 0 else 0.0,
        "output_fps": len(answers) / duration if duration > 0 else 0.0,
    }


def build_report(
    records: Sequence[FrameRecord],
    run: Mapping[str, Any],
    detector_counts: Mapping[str, int] | None = None,
    unmatched: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Summarise finished frame records (FrameLedger.finish) into the report dictionary.

    ``run`` describes the replay (bag, topics, mode, ...); ``detector_counts`` are the detector's
    own diagnostics counters over the replay (received, published, dropped), when known.
    """
    origin = min((r.sent_ns for r in records), default=0)
    rows = [_frame_row(record, origin) for record in records]
    statuses = [record.status for record in records]
    detected = [row for row in rows if row["status"] == DETECTED]
    timed = [r for r in records if r.timing is not None]
    summary: dict[str, Any] = {
        "frames": {
            "sent": len(records),
            "detected": statuses.count(DETECTED),
            "dropped": statuses.count(DROPPED),
            "missing": statuses.count(MISSING),
            "without_output": statuses.count(DROPPED) + statuses.count(MISSING),
            "with_timing": len(timed),
            "with_no_objects": sum(1 for row in detected if row["detections"] == 0),
        },
        "detector_reported_drops": sum(r.timing.frames_dropped for r in timed if r.timing),
        "throughput": _throughput(records),
        "latency_ms": {
            key: summary_stats(
                [row[f"{key}_ms"] for row in detected if row[f"{key}_ms"] is not None]
            )
            for key in LATENCY_KEYS
        },
        "detections_per_frame": summary_stats([row["detections"] for row in detected]),
        "detector_counts": dict(detector_counts) if detector_counts is not None else None,
        "unmatched_answers": dict(unmatched or {}),
        "per_topic": _per_topic(records),
    }
    return {"schema": REPORT_SCHEMA, "run": dict(run), "summary": summary, "frames": rows}


def _per_topic(records: Sequence[FrameRecord]) -> dict[str, dict[str, Any]]:
    topics: dict[str, dict[str, Any]] = {}
    for topic in sorted({r.topic for r in records}):
        mine = [r for r in records if r.topic == topic]
        latencies = [r.latencies_ms()["end_to_end"] for r in mine if r.status == DETECTED]
        topics[topic] = {
            "sent": len(mine),
            "detected": sum(r.status == DETECTED for r in mine),
            "dropped": sum(r.status == DROPPED for r in mine),
            "missing": sum(r.status == MISSING for r in mine),
            "end_to_end_ms": summary_stats([v for v in latencies if v is not None]),
        }
    return topics


# --- files -----------------------------------------------------------------------------------------


def write_report(report: Mapping[str, Any], out_dir: Path, *, plots: bool = True) -> list[Path]:
    """Write report.json, frames.csv, summary.txt and (with matplotlib) the PNG plots.

    Returns the files written. Without matplotlib the plots are skipped and summary.txt says so.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json", out_dir / "frames.csv"]
    written[0].write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    with written[1].open("w", newline="") as handle:
        frames = report["frames"]
        writer = csv.DictWriter(handle, fieldnames=list(frames[0]) if frames else ["index"])
        writer.writeheader()
        writer.writerows(frames)
    note = ""
    if plots:
        try:
            from yolo_trt_ros.replay import plots as plotting  # noqa: PLC0415 - needs matplotlib
        except ImportError as error:
            note = (
                f"plots skipped: {error}. Install matplotlib for them "
                "(pip install matplotlib, or apt install python3-matplotlib)."
            )
        else:
            written += plotting.plot_report(report, out_dir)
    summary = out_dir / "summary.txt"
    summary.write_text(render_text(report, files=[*written, summary], note=note) + "\n")
    return [*written, summary]


def load_report(path: Path) -> dict[str, Any]:
    """Read a report.json (or the directory holding one); ReportError if it is not a report."""
    file = path / "report.json" if path.is_dir() else path
    try:
        report = json.loads(file.read_text())
    except OSError as error:
        raise ReportError(f"cannot read report {file}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{file} is not JSON ({error}); pass a replay report.json") from None
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        raise ReportError(
            f"{file} is not a replay report (expected schema {REPORT_SCHEMA!r}); "
            "pass the report.json that `replay` or `latency_probe` wrote"
        )
    return report


# --- text ------------------------------------------------------------------------------------------


def _ms(value: float | int | None) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"
    )


def latency_table(latency: Mapping[str, Mapping[str, float | int]]) -> list[str]:
    """Rows of a latency table: one per stage, count and percentiles in ms."""
    lines = [f"{'latency (ms)':<20}{'count':>7}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"]
    for key in LATENCY_KEYS:
        stats = latency.get(key, {"count": 0})
        cells = "".join(f"{_ms(stats.get(name)):>9}" for name in ("p50", "p90", "p99", "max"))
        lines.append(f"{_LABELS[key]:<20}{stats.get('count', 0):>7}{cells}")
    return lines


def _describe_run(run: Mapping[str, Any]) -> str:
    parts = [str(run.get("source", "?"))]
    for key in ("mode", "stamps"):
        if run.get(key):
            parts.append(f"{run[key]} stamps" if key == "stamps" else str(run[key]))
    if run.get("loops", 1) != 1:
        parts.append(f"{run['loops']} loops")
    if run.get("detector"):
        parts.append(f"detector {run['detector']}")
    return ", ".join(parts)


def _accounting(summary: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    frames = summary["frames"]
    timeout = run.get("answer_timeout_s")
    lines = [
        f"frames      {frames['sent']} sent: {frames['detected']} detected, "
        f"{frames['dropped']} dropped (a newer frame was answered), {frames['missing']} missing "
        f"(no answer{f' within {timeout:g} s' if timeout else ''})"
    ]
    counts = summary.get("detector_counts")
    if counts:
        line = (
            f"detector    received {counts['received']} of them, published {counts['published']}, "
            f"dropped {counts['dropped']} (its diagnostics)"
        )
        if counts["received"] < frames["sent"]:
            line += (
                f"; {frames['sent'] - counts['received']} never reached it (lost on the way, or "
                "overwritten in its subscription queue: raise its qos_depth)"
            )
        if counts.get("bad_frames"):
            line += f"; {counts['bad_frames']} could not be used (bad frames)"
        lines.append(line)
    reported = summary.get("detector_reported_drops", 0)
    expected = counts["dropped"] if counts else frames["dropped"]
    if frames["with_timing"] and reported != expected:
        lines.append(f"            its InferenceTiming messages counted {reported} drops")
    unmatched = summary.get("unmatched_answers") or {}
    if unmatched.get("detections"):
        lines.append(
            f"            {unmatched['detections']} detection messages matched no frame sent "
            "(another publisher on the topic, or frames sent before the replay)"
        )
    return lines


def render_text(report: Mapping[str, Any], files: Sequence[Path] = (), note: str = "") -> str:
    """Render the one-screen text summary of a report."""
    run, summary = report["run"], report["summary"]
    throughput = summary["throughput"]
    lines = [
        f"replay report: {_describe_run(run)}",
        f"topics      {', '.join(run.get('topics', [])) or '?'}",
        *_accounting(summary, run),
        f"throughput  {throughput['input_fps']:.1f} fps in, {throughput['output_fps']:.1f} fps "
        f"detected, over {throughput['duration_s']:.1f} s",
        "",
        *latency_table(summary["latency_ms"]),
    ]
    if run.get("aborted"):
        lines += ["", f"ABORTED: {run['aborted']}"]
    if note:
        lines += ["", note]
    if files:
        lines += ["", "files       " + ", ".join(str(f) for f in files)]
    return "\n".join(lines)
