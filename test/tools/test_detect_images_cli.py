"""`ros2 run yolo_trt_ros detect_images`: the non-ROS command line, run from where ros2 run looks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks
from yolo_trt_ros.testing.sample_images import IMAGES_DIR


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(executables_where_ros2_run_looks()["detect_images"]), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_prints_one_json_line_per_image_and_flags_unreadable_files(tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not pixels")
    result = _run(str(IMAGES_DIR / "bus.jpg"), str(not_an_image), "--classes", "0", "--conf", "0.5")
    assert result.returncode == 1, result.stderr
    assert f"cannot read {not_an_image}" in result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert (record["height"], record["width"]) == (1080, 810)
    assert len(record["detections"]) == 4
    assert {d["name"] for d in record["detections"]} == {"person"}
    assert all(d["score"] > 0.5 and len(d["box"]) == 4 for d in record["detections"])


def test_bad_settings_exit_with_a_message() -> None:
    result = _run(str(IMAGES_DIR / "bus.jpg"), "--conf", "2")
    assert result.returncode == 2
    assert "confidence threshold must be within [0, 1]" in result.stderr
