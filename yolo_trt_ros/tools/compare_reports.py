"""Compare replay reports side by side: before/after a change, FP16 vs INT8, one machine vs another.

    ros2 run yolo_trt_ros compare_reports before/ after/ --labels fp16 int8 --out fp16_vs_int8/

Each argument is a report directory (or its report.json) from `replay` or `latency_probe`. The
first is the baseline; the table shows each report's frames, throughput and latency percentiles,
and the ratio of every other report to the baseline. Writes comparison.json, comparison.txt and
comparison.png (with matplotlib) into --out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from yolo_trt_ros.errors import ReportError
from yolo_trt_ros.replay.compare import compare_reports, render_comparison, write_comparison
from yolo_trt_ros.replay.report import load_report

__all__ = ["main"]


def _label(path: Path, report: dict[str, object], taken: set[str]) -> str:
    run = report.get("run")
    label = str(run.get("label") or "") if isinstance(run, dict) else ""
    label = label or (path.name if path.is_dir() else path.parent.name) or str(path)
    while label in taken:
        label += "'"
    return label


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparison table and write its files; exit status 2 on an unreadable report."""
    parser = argparse.ArgumentParser(
        prog="compare_reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "reports", nargs="+", type=Path, help="report directories or report.json files"
    )
    parser.add_argument("--labels", nargs="+", default=None, help="a name for each report")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("replay_comparison"),
        help="output folder (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if len(args.reports) < 2:
        parser.error("give at least two reports to compare")
    if args.labels is not None and len(args.labels) != len(args.reports):
        parser.error(f"--labels needs one name per report ({len(args.reports)})")
    if args.labels is not None and len(set(args.labels)) != len(args.labels):
        parser.error("--labels must be different from each other")
    try:
        loaded = [load_report(path) for path in args.reports]
    except ReportError as error:
        print(f"compare_reports: {error}", file=sys.stderr)
        return 2
    reports: dict[str, dict[str, object]] = {}
    for index, (path, report) in enumerate(zip(args.reports, loaded, strict=True)):
        label = args.labels[index] if args.labels else _label(path, report, set(reports))
        reports[label] = report
    comparison = compare_reports(reports)
    files = write_comparison(comparison, reports, args.out)
    print(render_comparison(comparison))
    print(f"\nfiles: {', '.join(str(f) for f in files)}")
    if not any(f.suffix == ".png" for f in files):
        print("(no plot: matplotlib is not installed; pip install matplotlib)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
