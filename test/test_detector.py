"""The plain-Python API: Detector.from_model(...)(image) -> Detections, with no ROS, torch or Ultralytics."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.errors import InvalidImageError, InvalidSettingError
from yolo_trt_ros.testing.sample_images import build_sample_images


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    with Detector.from_model() as loaded:
        yield loaded


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    return build_sample_images()["bus"]


def test_detections_api(detector: Detector, bus: np.ndarray) -> None:
    found = detector(bus)
    assert isinstance(found, Detections) and len(found) >= 4
    assert found.image_hw == bus.shape[:2]
    assert list(found.scores) == sorted(found.scores, reverse=True)
    assert found.boxes.dtype == np.float32 and found.class_ids.dtype == np.int64
    assert set(found.class_names) <= set(detector.names.values()) and "person" in found.class_names
    first = next(iter(found))
    assert first.name == found.class_names[0] and first.score == pytest.approx(
        float(found.scores[0])
    )
    records = found.to_list()
    assert json.loads(json.dumps(records)) == records and records[0]["box"] == pytest.approx(
        found.boxes[0].tolist()
    )
    height, width = bus.shape[:2]
    assert np.all(found.boxes[:, [0, 2]] <= width) and np.all(found.boxes[:, [1, 3]] <= height)
    times = detector.last_times
    assert times.preprocess_ms > 0 and times.inference_ms > 0 and times.postprocess_ms > 0
    assert times.total_ms == pytest.approx(
        times.preprocess_ms + times.inference_ms + times.postprocess_ms
    )


def test_settings_shape_the_output(bus: np.ndarray) -> None:
    with Detector.from_model(conf=0.5, classes=[0], max_det=2) as picky:
        found = picky(bus)
    assert len(found) == 2 and set(found.class_ids.tolist()) == {0} and found.scores.min() > 0.5


def test_rgb_input_with_pixel_format(detector: Detector, bus: np.ndarray) -> None:
    as_bgr = detector(bus)
    as_rgb = detector(np.ascontiguousarray(bus[:, :, ::-1]), "rgb8")
    np.testing.assert_array_equal(as_bgr.boxes, as_rgb.boxes)


def test_empty_scene_gives_no_detections(detector: Detector) -> None:
    assert len(detector(np.full((480, 640, 3), 114, np.uint8))) == 0


def test_warmup_and_bad_frames_do_not_break_the_detector(
    detector: Detector, bus: np.ndarray
) -> None:
    detector.warmup(2)
    with pytest.raises(InvalidImageError):
        detector(np.zeros((10, 10, 3), np.float64))
    assert len(detector(bus)) >= 4


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"conf": 1.5}, "confidence"),
        ({"classes": [80]}, r"class ids \[80\]"),
        ({"imgsz": 0}, "image size"),
        ({"iou": -1}, "IoU"),
    ],
)
def test_invalid_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSettingError, match=message):
        Detector.from_model(**settings)


def test_no_torch_or_ultralytics_on_the_detection_path() -> None:
    """In a fresh interpreter, a full detection imports neither torch nor ultralytics (nor rclpy)."""
    code = (
        "import sys, numpy as np\n"
        "from yolo_trt_ros.detector import Detector\n"
        "d = Detector.from_model()\n"
        "d(np.zeros((480, 640, 3), np.uint8))\n"
        "print(sorted(m for m in ('torch', 'ultralytics', 'torchvision', 'rclpy') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
