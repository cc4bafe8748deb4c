"""Greedy non-maximum suppression in NumPy, with the semantics of ``torchvision.ops.nms``.

Boxes are visited in descending score order (ties keep their input order); a box is dropped when
its IoU with an already kept box is strictly greater than the threshold. A pair of degenerate
(zero-area) boxes has an undefined IoU and, as in torchvision, never suppresses. Class-aware NMS
compares only boxes of the same class; it does this exactly, instead of Ultralytics' trick of
offsetting each class by 7680 pixels, which costs float32 precision on the coordinates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.errors import InvalidSettingError

__all__ = ["box_iou", "nms"]

Indices = npt.NDArray[np.intp]


def box_iou(
    boxes_a: npt.NDArray[np.floating], boxes_b: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """Pairwise IoU of xyxy boxes, shape (len(a), len(b)); 0/0 (two empty boxes) gives NaN."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a + area_b - inter)  # type: ignore[no-any-return]


def nms(
    boxes: npt.NDArray[np.floating],
    scores: npt.NDArray[np.floating],
    iou_threshold: float,
    *,
    class_ids: npt.NDArray[np.integer] | None = None,
    max_keep: int | None = None,
) -> Indices:
    """Return the indices of the boxes NMS keeps, highest score first.

    Args:
        boxes: (N, 4) xyxy boxes.
        scores: (N,) scores.
        iou_threshold: boxes overlapping a kept box by more than this are dropped.
        class_ids: (N,) class of each box for class-aware NMS; None for class-agnostic NMS.
        max_keep: stop after keeping this many boxes.

    """
    if not 0.0 <= iou_threshold <= 1.0:
        raise InvalidSettingError(f"IoU threshold must be within [0, 1], got {iou_threshold}")
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores).reshape(-1)
    if len(boxes) != len(scores) or (class_ids is not None and len(class_ids) != len(scores)):
        raise ValueError(
            f"nms got {len(boxes)} boxes, {len(scores)} scores and {None if class_ids is None else len(class_ids)} classes"
        )
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    limit = len(order) if max_keep is None else max_keep
    keep: list[int] = []
    while order.size and len(keep) < limit:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        inter = np.clip(
            np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None
        ) * np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            suppressed = inter / (areas[best] + areas[rest] - inter) > iou_threshold
        if class_ids is not None:
            suppressed &= class_ids[rest] == class_ids[best]
        order = rest[~suppressed]
    return np.asarray(keep, dtype=np.intp)
