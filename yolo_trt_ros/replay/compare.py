"""Replay reports side by side (before/after a change, FP16 vs INT8): JSON, a text table, a plot.

The first report is the baseline: every other one gets ratios against it (other / baseline, so
below 1 means faster for latencies, above 1 means more frames per second for throughput).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yolo_trt_ros.replay.report import LATENCY_KEYS

__all__ = ["COMPARISON_SCHEMA", "compare_reports", "render_comparison", "write_comparison"]

COMPARISON_SCHEMA = "yolo_trt_ros/replay-comparison/1"
_FRAME_KEYS = ("sent", "detected", "dropped", "missing")
_LATENCY_ROWS = (
    ("end_to_end", "p50"),
    ("end_to_end", "p90"),
    ("end_to_end", "p99"),
    ("end_to_end", "max"),
    ("node_total", "p50"),
    ("transport_in", "p50"),
    ("wait", "p50"),
    ("preprocess", "p50"),
    ("inference", "p50"),
    ("inference", "p99"),
    ("postprocess", "p50"),
    ("transport_out", "p50"),
)


def _digest(report: Mapping[str, Any]) -> dict[str, Any]:
    summary = report["summary"]
    return {
        "run": report["run"],
        "frames": {key: summary["frames"][key] for key in _FRAME_KEYS},
        "throughput": summary["throughput"],
        "latency_ms": {key: summary["latency_ms"].get(key, {"count": 0}) for key in LATENCY_KEYS},
    }


def _ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def compare_reports(reports: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Compare labelled reports; the first is the baseline the others are divided by."""
    digests = {label: _digest(report) for label, report in reports.items()}
    baseline_label = next(iter(digests))
    baseline = digests[baseline_label]
    ratios: dict[str, Any] = {}
    for label, digest in list(digests.items())[1:]:
        ratios[f"{label}/{baseline_label}"] = {
            "output_fps": _ratio(
                digest["throughput"]["output_fps"], baseline["throughput"]["output_fps"]
            ),
            "latency_ms": {
                key: {
                    name: _ratio(
                        digest["latency_ms"][key].get(name), baseline["latency_ms"][key].get(name)
                    )
                    for name in ("p50", "p90", "p99", "max")
                }
                for key in LATENCY_KEYS
            },
        }
    return {
        "schema": COMPARISON_SCHEMA,
        "baseline": baseline_label,
        "reports": digests,
        "ratios": ratios,
    }


def _cell(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def render_comparison(comparison: Mapping[str, Any]) -> str:
    """Render a text table: a column per report, and a ratio column per report after the first."""
    digests: Mapping[str, Any] = comparison["reports"]
    labels = list(digests)
    ratio_keys = list(comparison["ratios"])
    width = max(12, *(len(label) + 2 for label in labels))
    header = f"{'':<24}" + "".join(f"{label:>{width}}" for label in labels)
    header += "".join(f"{key:>{max(14, len(key) + 2)}}" for key in ratio_keys)
    lines = [header]

    def row(name: str, values: list[Any], ratios: list[float | None]) -> None:
        cells = "".join(f"{_cell(v):>{width}}" for v in values)
        cells += "".join(
            f"{(_cell(r, 2) + 'x') if r is not None else '-':>{max(14, len(k) + 2)}}"
            for r, k in zip(ratios, ratio_keys, strict=True)
        )
        lines.append(f"{name:<24}{cells}")

    for key in _FRAME_KEYS:
        row(
            f"frames {key}",
            [digests[label]["frames"][key] for label in labels],
            [None] * len(ratio_keys),
        )
    row(
        "detected fps",
        [digests[label]["throughput"]["output_fps"] for label in labels],
        [comparison["ratios"][k]["output_fps"] for k in ratio_keys],
    )
    for key, name in _LATENCY_ROWS:
        row(
            f"{key} {name} (ms)",
            [digests[label]["latency_ms"][key].get(name) for label in labels],
            [comparison["ratios"][k]["latency_ms"][key][name] for k in ratio_keys],
        )
    sources = [f"  {label}: {digests[label]['run'].get('source', '?')}" for label in labels]
    return "\n".join([*lines, "", "reports:", *sources])


def write_comparison(
    comparison: Mapping[str, Any], reports: Mapping[str, Mapping[str, Any]], out_dir: Path
) -> list[Path]:
    """Write comparison.json, comparison.txt and (with matplotlib) comparison.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "comparison.json", out_dir / "comparison.txt"]
    written[0].write_text(json.dumps(comparison, indent=1, allow_nan=False) + "\n")
    written[1].write_text(render_comparison(comparison) + "\n")
    try:
        from yolo_trt_ros.replay.plots import plot_comparison  # noqa: PLC0415 - needs matplotlib
    except ImportError:
        return written
    return [*written, plot_comparison(reports, out_dir / "comparison.png")]
