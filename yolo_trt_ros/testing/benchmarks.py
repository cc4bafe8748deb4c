"""What the benchmark scripts share: their frames, statistics, commit and private ROS domain."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.dds import dds_environment
from yolo_trt_ros.media import read_image
from yolo_trt_ros.models import bundled_sample_image_path
from yolo_trt_ros.testing.ros_domain import localhost_domain
from yolo_trt_ros.testing.sample_images import build_sample_images

__all__ = [
    "FRAME_SIZES",
    "Frame",
    "emit_report",
    "git_commit",
    "parse_size",
    "private_ros_environment",
    "street_frames",
    "street_frames_or_sample",
    "summarize",
]

Frame = npt.NDArray[np.uint8]

# The checkout (the symlink install resolves to the source tree): git_commit() asks git about it.
REPO_ROOT: Final = Path(__file__).resolve().parents[2]

FRAME_SIZES: Final = (("640x480", 640, 480), ("1280x720", 1280, 720), ("1920x1080", 1920, 1080))


def parse_size(label: str) -> tuple[int, int]:
    """Parse WIDTHxHEIGHT; ValueError when it is not two positive integers."""
    width, _, height = label.partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise ValueError(f"a size is WIDTHxHEIGHT, not {label!r}")
    return int(width), int(height)


def _shrunk(source: Frame, width: int, height: int) -> Frame:
    if source.shape[:2] == (height, width):
        return source
    resized = cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized, np.uint8)


def street_frames() -> dict[str, Frame]:
    """Return label -> BGR frame: the 1080p street composite and its INTER_AREA reductions."""
    source = build_sample_images()["street_1080p"]
    return {label: _shrunk(source, width, height) for label, width, height in FRAME_SIZES}


def street_frames_or_sample(sizes: Sequence[str]) -> tuple[dict[str, Frame], str]:
    """Return label -> BGR frame at each WIDTHxHEIGHT, and where the pixels come from.

    The street composite of `sample_images`, shrunk with INTER_AREA (the frames of the CPU and
    GPU pipeline benchmarks); the bundled sample photo where the test images are missing.
    """
    try:
        ready = street_frames()
        source, origin = ready["1920x1080"], "sample_images street_1080p, INTER_AREA"
    except FileNotFoundError:  # .cache/test_images not prepared (scripts/prepare_test_images.py)
        ready = {}
        source = read_image(bundled_sample_image_path())
        origin = f"{bundled_sample_image_path().name} (the bundled sample photo), INTER_AREA"
    frames = {
        label: ready[label] if label in ready else _shrunk(source, *parse_size(label))
        for label in sizes
    }
    return frames, origin


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """Median, p90, min and max of a list of durations in milliseconds."""
    values = np.asarray(samples_ms, np.float64)
    return {
        "median": round(float(np.median(values)), 4),
        "p90": round(float(np.percentile(values, 90)), 4),
        "min": round(float(values.min()), 4),
        "max": round(float(values.max()), 4),
    }


def git_commit() -> str | None:
    """Return HEAD's commit, with "-dirty" when tracked files changed; None without git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if status.strip() else commit


def private_ros_environment() -> tuple[dict[str, str], str]:
    """Variables for a private localhost ROS domain with the shipped DDS profile, and why that profile."""
    variables = localhost_domain(100, 200)
    dds = dds_environment()  # as the launch files: the user's own profile or opt-out wins
    return {**variables, **dds.variables}, dds.reason


def emit_report(report: Any, out: Path | None) -> None:
    """Print a benchmark's JSON report, and write it to ``out`` when one is given."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
