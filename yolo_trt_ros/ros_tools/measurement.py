"""Plumbing shared by `replay` and `latency_probe`: spinning, waiting, arguments, run facts."""

from __future__ import annotations

import argparse
import contextlib
import platform
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from yolo_trt_ros.cli_numbers import non_negative_seconds
from yolo_trt_ros.ros_tools.detector_discovery import absolute_node_name

__all__ = [
    "Spinner",
    "add_measurement_arguments",
    "counter_delta",
    "run_info",
    "split_ros_args",
    "wait_for",
]


def counter_delta(
    before: dict[str, int] | None, after: dict[str, int] | None
) -> dict[str, int] | None:
    """Return what the detector counted between two snapshots (None if either is unknown)."""
    if before is None or after is None:
        return None
    return {key: after[key] - before[key] for key in after}


def run_info(tool: str, source: str, detector: str, **details: Any) -> dict[str, Any]:
    """Describe a run for its report: what was measured, how, where and when."""
    return {
        "tool": tool,
        "source": source,
        "detector": absolute_node_name(detector),
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        **details,
    }


class Spinner:
    """An executor spinning some nodes in a background thread (the caller's thread stays free)."""

    def __init__(self, *nodes: Node) -> None:
        self.executor = SingleThreadedExecutor()
        for node in nodes:
            self.executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, name="ros_spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(ExternalShutdownException):  # the context was shut down
            self.executor.spin()

    def stop(self) -> None:
        """Stop spinning and wait for the thread."""
        self.executor.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=5.0)


def split_ros_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a command line into the tool's own arguments and ``--ros-args ...`` for rclpy.

    Only what follows ``--ros-args`` goes to rclpy: its legacy parser would otherwise take a
    tool argument such as ``--remap /a:=/b`` for a remapping rule of its own.
    """
    argv = list(argv)
    if "--ros-args" in argv:
        index = argv.index("--ros-args")
        return argv[:index], argv[index:]
    return argv, []


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def add_measurement_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Add the options `replay` and `latency_probe` share: detector, report folder, label."""
    parser.add_argument(
        "--detector", default="/yolo_detector", help="detector node (default: %(default)s)"
    )
    parser.add_argument(
        "--wait-detector",
        type=non_negative_seconds,
        default=30.0,
        help="seconds to wait for the detector (default: 30)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(default_out), help="report folder (default: %(default)s)"
    )
    parser.add_argument(
        "--label", default="", help="a name for this run, shown in plots and comparisons"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
