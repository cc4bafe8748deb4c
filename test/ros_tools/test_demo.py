"""The README's main job: `ros2 run yolo_trt_ros demo` on a machine without camera or GPU."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2

from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks


def test_demo_detects_the_sample_photo_and_writes_annotated_images(tmp_path: Path) -> None:
    out = tmp_path / "annotated"
    command = [
        str(executables_where_ros2_run_looks()["demo"]),
        "--frames",
        "3",
        "--rate",
        "4",
        "--out",
        str(out),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if " detections [" in line]
    assert len(lines) == 3, result.stdout
    timed = [line for line in lines if "latency" in line and "infer" in line]
    assert timed, "no frame came with its timing"
    assert all("person 0.9" in line and "dog" in line for line in lines)  # the bundled street photo
    saved = sorted(out.glob("annotated_*.png"))
    assert saved, "no annotated image written"
    image = cv2.imread(str(saved[-1]))
    assert image is not None and image.shape == (466, 700, 3)
    assert f"annotated images in {out}" in result.stdout
