"""PNG plots of a replay report: latency CDF, latency over time with drops marked, stage breakdown.

Imported only when plots are wanted, so nothing else in the package needs matplotlib. Uses
matplotlib's object API (``Figure``) without pyplot: no GUI backend, no global state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from yolo_trt_ros.replay.ledger import DETECTED, DROPPED, MISSING, STAGES

__all__ = ["plot_comparison", "plot_report"]

_STAGE_COLORS = {
    "transport_in": "#8da0cb",
    "wait": "#e5c494",
    "preprocess": "#66c2a5",
    "inference": "#fc8d62",
    "postprocess": "#a6d854",
    "transport_out": "#b3b3b3",
}
_DPI = 110
# matplotlib 3.10 replaced boxplot(vert=False) by orientation=; Ubuntu's older ones only know vert
_HORIZONTAL: dict[str, Any] = (
    {"orientation": "horizontal"}
    if tuple(int(part) for part in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    else {"vert": False}
)


def _values(frames: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    found = [
        f[f"{key}_ms"] for f in frames if f["status"] == DETECTED and f[f"{key}_ms"] is not None
    ]
    return np.asarray(found, dtype=np.float64)


def _cdf(axes: Axes, values: np.ndarray, label: str, **style: Any) -> None:
    if values.size:
        ordered = np.sort(values)
        axes.step(
            ordered,
            np.arange(1, ordered.size + 1) / ordered.size,
            where="post",
            label=label,
            **style,
        )


def _title(report: Mapping[str, Any]) -> str:
    run = report["run"]
    return f"{run.get('source', '')}  ({run.get('mode', '')}, {run.get('label') or 'replay'})"


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    return path


def latency_cdf(report: Mapping[str, Any], path: Path) -> Path:
    """Plot the cumulative distribution of end-to-end, in-detector and inference latency."""
    frames, stats = report["frames"], report["summary"]["latency_ms"]["end_to_end"]
    figure = Figure(figsize=(8, 4.5))
    axes = figure.add_subplot()
    _cdf(axes, _values(frames, "end_to_end"), "end to end", color="#1f77b4", linewidth=2)
    _cdf(axes, _values(frames, "node_total"), "in the detector", color="#2ca02c")
    _cdf(axes, _values(frames, "inference"), "inference", color="#ff7f0e")
    for name, style in (("p50", ":"), ("p99", "--")):
        if name in stats:
            axes.axvline(stats[name], color="#1f77b4", linestyle=style, linewidth=1)
            axes.annotate(
                f"{name} {stats[name]:.1f} ms",
                (stats[name], 0.98),
                rotation=90,
                fontsize=8,
                xytext=(-3, 0),
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1},
                textcoords="offset points",
                ha="right",
                va="top",
            )
    axes.set(xlabel="latency (ms)", ylabel="fraction of detected frames", ylim=(0, 1.02))
    axes.set_title(f"Latency CDF: {_title(report)}", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    return _save(figure, path)


def latency_over_time(report: Mapping[str, Any], path: Path) -> Path:
    """Plot each frame's latency against when it was sent, with dropped and missing frames marked."""
    frames = report["frames"]
    figure = Figure(figsize=(10, 4.5))
    axes = figure.add_subplot()
    topics = sorted({f["topic"] for f in frames})
    for topic in topics:
        mine = [f for f in frames if f["topic"] == topic and f["status"] == DETECTED]
        label = "end to end" if len(topics) == 1 else f"end to end {topic}"
        axes.plot(
            [f["sent_s"] for f in mine],
            [f["end_to_end_ms"] for f in mine],
            ".-",
            markersize=3,
            linewidth=0.8,
            label=label,
        )
    timed = [f for f in frames if f["status"] == DETECTED and f["inference_ms"] is not None]
    axes.plot(
        [f["sent_s"] for f in timed],
        [f["inference_ms"] for f in timed],
        linewidth=0.8,
        color="#ff7f0e",
        alpha=0.8,
        label="inference",
    )
    for status, marker, color in ((DROPPED, "x", "#d62728"), (MISSING, "v", "black")):
        times = [f["sent_s"] for f in frames if f["status"] == status]
        if times:
            axes.plot(
                times,
                np.zeros(len(times)),
                marker,
                color=color,
                markersize=6,
                linestyle="none",
                clip_on=False,
                label=f"{status} ({len(times)})",
            )
    axes.set(xlabel="time since the first frame was sent (s)", ylabel="latency (ms)")
    axes.set_ylim(bottom=0)
    axes.set_title(f"Latency over time: {_title(report)}", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
    return _save(figure, path)


def stage_breakdown(report: Mapping[str, Any], path: Path) -> Path:
    """Plot the median of each stage stacked into one bar, and each stage's spread."""
    frames, latency = report["frames"], report["summary"]["latency_ms"]
    figure = Figure(figsize=(10, 4.5))
    bar, boxes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    left = 0.0
    for stage in STAGES:
        median = float(latency.get(stage, {}).get("p50", 0.0))
        bar.bar(
            0, median, bottom=left, color=_STAGE_COLORS[stage], label=f"{stage} {median:.1f} ms"
        )
        left += median
    end_to_end = latency["end_to_end"].get("p50")
    bar.set(xticks=[], ylabel="ms (median of each stage)")
    bar.set_title(f"sum {left:.1f} ms; median end to end {_fmt(end_to_end)} ms", fontsize=9)
    bar.legend(fontsize=8, loc="upper right")
    bar.set_xlim(-0.5, 2.6)  # room for the legend beside the bar
    data = [_values(frames, stage) for stage in STAGES]
    shown = [i for i, values in enumerate(data) if values.size]
    if shown:
        plot = boxes.boxplot(
            [data[i] for i in shown],
            **_HORIZONTAL,
            whis=(1, 99),
            showfliers=True,
            patch_artist=True,
            flierprops={"markersize": 2},
            medianprops={"color": "black"},
        )
        for patch, index in zip(plot["boxes"], shown, strict=True):
            patch.set_facecolor(_STAGE_COLORS[STAGES[index]])
        boxes.set_yticks(range(1, len(shown) + 1), [STAGES[i] for i in shown])
    boxes.set(xlabel="ms (box: p25-p75, whiskers: p1-p99)")
    boxes.grid(alpha=0.3, axis="x")
    figure.suptitle(f"Where the time goes: {_title(report)}", fontsize=10)
    return _save(figure, path)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def plot_report(report: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write the three plots of a report into ``out_dir``; return their paths."""
    return [
        latency_cdf(report, out_dir / "latency_cdf.png"),
        latency_over_time(report, out_dir / "latency_over_time.png"),
        stage_breakdown(report, out_dir / "stage_breakdown.png"),
    ]


def plot_comparison(reports: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Plot several reports side by side: end-to-end CDFs, and stage medians as grouped bars."""
    figure = Figure(figsize=(12, 4.8))
    cdf, bars = figure.subplots(1, 2)
    for label, report in reports.items():
        _cdf(cdf, _values(report["frames"], "end_to_end"), label, linewidth=2)
    cdf.set(xlabel="end-to-end latency (ms)", ylabel="fraction of detected frames", ylim=(0, 1.02))
    cdf.grid(alpha=0.3)
    cdf.legend(loc="lower right")
    cdf.set_title("End-to-end latency CDF", fontsize=10)
    width = 0.8 / max(1, len(reports))
    positions = np.arange(len(STAGES) + 1)
    for index, (label, report) in enumerate(reports.items()):
        latency = report["summary"]["latency_ms"]
        medians = [float(latency.get(key, {}).get("p50", 0.0)) for key in (*STAGES, "end_to_end")]
        bars.bar(positions + index * width, medians, width, label=label)
    bars.set_xticks(
        positions + width * (len(reports) - 1) / 2,
        [*STAGES, "end_to_end"],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    bars.set(ylabel="median (ms)")
    bars.grid(alpha=0.3, axis="y")
    bars.legend()
    bars.set_title("Median per stage", fontsize=10)
    return _save(figure, path)
