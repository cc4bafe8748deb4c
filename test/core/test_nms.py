"""NMS against an independent brute-force reference, plus the edge cases that break NMS code."""

from __future__ import annotations

import numpy as np
import pytest

from yolo_trt_ros.core.nms import box_iou, nms
from yolo_trt_ros.errors import InvalidSettingError


def _iou(a: list[float], b: list[float]) -> float:
    """IoU written out longhand, sharing no code with the package."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float("nan")


def _reference_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, classes: np.ndarray | None
) -> list[int]:
    """Textbook greedy NMS: sort by score (stable), keep a box unless a kept box overlaps it too much."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    kept: list[int] = []
    for i in order:
        same_class = [k for k in kept if classes is None or classes[k] == classes[i]]
        if all(not _iou(boxes[k].tolist(), boxes[i].tolist()) > threshold for k in same_class):
            kept.append(i)
    return kept


def _random_boxes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 200, (count, 2))
    sizes = rng.uniform(5, 80, (count, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).astype(np.float32)
    return boxes, rng.uniform(0, 1, count).astype(np.float32), rng.integers(0, 4, count)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7, 1.0])
@pytest.mark.parametrize("class_aware", [False, True])
def test_matches_brute_force_reference(seed: int, threshold: float, class_aware: bool) -> None:
    boxes, scores, classes = _random_boxes(150, seed)
    got = nms(boxes, scores, threshold, class_ids=classes if class_aware else None)
    assert got.tolist() == _reference_nms(
        boxes, scores, threshold, classes if class_aware else None
    )


def test_no_boxes() -> None:
    kept = nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5)
    assert kept.shape == (0,) and kept.dtype == np.intp


def test_all_boxes_identical_keep_only_the_best() -> None:
    boxes = np.tile(np.array([[10, 10, 50, 50]], np.float32), (20, 1))
    scores = np.linspace(0.1, 0.9, 20, dtype=np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [19]


def test_identical_boxes_of_many_classes_survive_class_aware_only() -> None:
    boxes = np.tile(np.array([[0, 0, 100, 100]], np.float32), (80, 1))
    scores = np.linspace(0.2, 0.99, 80, dtype=np.float32)
    classes = np.arange(80)
    assert sorted(nms(boxes, scores, 0.7, class_ids=classes).tolist()) == list(range(80))
    assert nms(boxes, scores, 0.7).tolist() == [79]


def test_iou_exactly_at_threshold_is_kept() -> None:
    # Two 10x10 boxes overlapping by 5x10: IoU = 50 / 150 = 1/3; suppression needs IoU > threshold.
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.3).tolist() == [0]


def test_degenerate_boxes_do_not_suppress_each_other() -> None:
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert nms(boxes, scores, 0.1).tolist() == [0, 1, 2]


def test_equal_scores_keep_input_order_and_max_keep_stops_early() -> None:
    boxes = np.array([[0, 0, 1, 1], [10, 10, 11, 11], [20, 20, 21, 21]], np.float32)
    scores = np.full(3, 0.5, np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.5, max_keep=2).tolist() == [0, 1]


def test_box_iou_agrees_with_longhand() -> None:
    boxes, _, _ = _random_boxes(30, 11)
    matrix = box_iou(boxes, boxes[:7])
    for i in range(30):
        for j in range(7):
            assert matrix[i, j] == pytest.approx(
                _iou(boxes[i].tolist(), boxes[j].tolist()), rel=1e-5
            )


def test_bad_arguments() -> None:
    with pytest.raises(InvalidSettingError):
        nms(np.zeros((1, 4), np.float32), np.ones(1, np.float32), 1.5)
    with pytest.raises(ValueError, match="boxes"):
        nms(np.zeros((2, 4), np.float32), np.ones(3, np.float32), 0.5)
