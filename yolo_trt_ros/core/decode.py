"""Model outputs -> detections in model-input pixels, for every YOLO detection output layout.

Three layouts exist in practice, and the decoder is picked from the output shapes alone:

* ``raw``: one tensor (N, 4 + C, anchors), the YOLOv8/YOLO11 detect head without NMS: xywh boxes
  then one score per class. Decoding mirrors Ultralytics' ``non_max_suppression``: best class per
  anchor, confidence threshold, optional class filter, at most ``max_nms`` candidates, NMS,
  ``max_det``.
* ``end2end``: one tensor (N, K, 6) of x1, y1, x2, y2, score, class, already suppressed (Ultralytics
  ``nms=True`` exports, YOLOv10, YOLO26): only threshold, class filter and ``max_det`` apply.
* ``efficient_nms``: four tensors num_dets (N, 1), boxes (N, K, 4), scores (N, K), classes (N, K),
  as written by TensorRT's EfficientNMS plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.core.nms import nms
from yolo_trt_ros.errors import InvalidSettingError, UnsupportedModelError

__all__ = [
    "DECODERS",
    "DecodeSettings",
    "RawDetections",
    "decode",
    "detect_output_layout",
    "suppress",
]

Shape = Sequence[int | str | None]


@dataclass(frozen=True)
class DecodeSettings:
    """Filtering and suppression settings, validated on construction."""

    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    classes: tuple[int, ...] | None = None
    agnostic: bool = False
    max_nms: int = 30000

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise InvalidSettingError(
                f"confidence threshold must be within [0, 1], got {self.conf}"
            )
        if not 0.0 <= self.iou <= 1.0:
            raise InvalidSettingError(f"IoU threshold must be within [0, 1], got {self.iou}")
        if self.max_det < 1 or self.max_nms < 1:
            raise InvalidSettingError(
                f"max_det and max_nms must be at least 1, got {self.max_det} and {self.max_nms}"
            )
        if self.classes is not None and any(c < 0 for c in self.classes):
            raise InvalidSettingError(f"class ids are non-negative, got {list(self.classes)}")


@dataclass(frozen=True)
class RawDetections:
    """One image's detections in model-input pixels, before mapping back to the source image."""

    boxes: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    class_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def _class_mask(
    class_ids: npt.NDArray[np.integer], classes: tuple[int, ...] | None
) -> npt.NDArray[np.bool_] | None:
    return None if classes is None else np.isin(class_ids, np.asarray(classes))


def _decode_raw(
    outputs: Sequence[npt.NDArray[np.generic]], settings: DecodeSettings
) -> list[RawDetections]:
    batch = np.asarray(outputs[0])
    results = []
    for prediction in batch:  # (4 + C, anchors)
        class_scores = prediction[4:]
        best = class_scores.max(axis=0)  # contiguous rows: much faster than argmax over axis 0
        candidates = np.flatnonzero(best > settings.conf)
        if candidates.size == 0:
            results.append(RawDetections())
            continue
        scores = best[candidates].astype(np.float32)
        class_ids = class_scores[:, candidates].argmax(axis=0).astype(np.int64)
        keep = _class_mask(class_ids, settings.classes)
        if keep is not None:
            candidates, scores, class_ids = candidates[keep], scores[keep], class_ids[keep]
        xywh = prediction[:4, candidates].T.astype(np.float32)
        half_wh = xywh[:, 2:] / np.float32(2)
        boxes = np.concatenate([xywh[:, :2] - half_wh, xywh[:, :2] + half_wh], axis=1)
        results.append(suppress(boxes, scores, class_ids, settings))
    return results


def suppress(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    settings: DecodeSettings,
) -> RawDetections:
    """Finish raw decoding: the best ``max_nms`` candidates (in order), NMS, at most ``max_det``.

    Candidates come in anchor order; ties in score keep that order, as in Ultralytics.
    """
    if len(scores) > settings.max_nms:
        top = np.argsort(-scores, kind="stable")[: settings.max_nms]
        boxes, scores, class_ids = boxes[top], scores[top], class_ids[top]
    kept = nms(
        boxes,
        scores,
        settings.iou,
        class_ids=None if settings.agnostic else class_ids,
        max_keep=settings.max_det,
    )
    return RawDetections(boxes[kept], scores[kept], class_ids[kept])


def _filter_suppressed(
    boxes: npt.NDArray[np.generic],
    scores: npt.NDArray[np.generic],
    class_ids: npt.NDArray[np.generic],
    settings: DecodeSettings,
) -> RawDetections:
    """Threshold, class filter and max_det for detections a model has already suppressed."""
    scores = np.asarray(scores, np.float32).reshape(-1)
    ids = np.asarray(class_ids).reshape(-1).astype(np.int64)
    keep = scores > settings.conf
    class_keep = _class_mask(ids, settings.classes)
    if class_keep is not None:
        keep &= class_keep
    index = np.flatnonzero(keep)
    index = index[np.argsort(-scores[index], kind="stable")][: settings.max_det]  # best first
    return RawDetections(
        np.asarray(boxes, np.float32).reshape(-1, 4)[index], scores[index], ids[index]
    )


def _decode_end2end(
    outputs: Sequence[npt.NDArray[np.generic]], settings: DecodeSettings
) -> list[RawDetections]:
    return [
        _filter_suppressed(p[:, :4], p[:, 4], p[:, 5], settings) for p in np.asarray(outputs[0])
    ]


def _decode_efficient_nms(
    outputs: Sequence[npt.NDArray[np.generic]], settings: DecodeSettings
) -> list[RawDetections]:
    num_dets, boxes, scores, classes = (np.asarray(o) for o in outputs)
    results = []
    for image in range(boxes.shape[0]):
        count = int(num_dets.reshape(boxes.shape[0], -1)[image, 0])
        results.append(
            _filter_suppressed(
                boxes[image, :count], scores[image, :count], classes[image, :count], settings
            )
        )
    return results


Decoder = Callable[[Sequence[npt.NDArray[np.generic]], DecodeSettings], list[RawDetections]]

DECODERS: Final[dict[str, Decoder]] = {
    "raw": _decode_raw,
    "end2end": _decode_end2end,
    "efficient_nms": _decode_efficient_nms,
}


def _fixed(dim: int | str | None) -> int | None:
    return dim if isinstance(dim, int) and dim >= 0 else None


def detect_output_layout(
    output_shapes: Sequence[Shape], num_classes: int | None = None, end2end: bool | None = None
) -> str:
    """Name the output layout (a key of DECODERS) from the model's output shapes.

    Dimensions may be symbolic (str or None) where the model has dynamic shapes. ``end2end`` (from
    the model's metadata) settles the one ambiguous case, (N, 4 + C, 6).

    Raises:
        UnsupportedModelError: the outputs are not those of a YOLO detection model.

    """
    shapes = [list(shape) for shape in output_shapes]
    if len(shapes) == 4 and [len(s) for s in shapes] == [2, 3, 2, 2] and _fixed(shapes[1][2]) == 4:
        return "efficient_nms"
    if len(shapes) >= 1 and len(shapes[0]) == 3:
        channels, last = _fixed(shapes[0][1]), _fixed(shapes[0][2])
        if last == 6 and (end2end or channels != 4 + (num_classes or -1)):
            return "end2end"
        if (
            channels is not None
            and channels > 4
            and (num_classes is None or channels == 4 + num_classes)
        ):
            return "raw"
        if channels is not None and num_classes is not None and channels > 4 + num_classes:
            raise UnsupportedModelError(
                f"output shape {shapes[0]} has {channels - 4 - num_classes} channels beyond 4 box + {num_classes} class "
                "scores: this looks like a segmentation or pose model; use a detection model"
            )
    raise UnsupportedModelError(
        f"model outputs {shapes} are not a YOLO detection head: expected (N, 4+classes, anchors), "
        "(N, K, 6) with NMS inside, or the four EfficientNMS outputs"
    )


def decode(
    layout: str, outputs: Sequence[npt.NDArray[np.generic]], settings: DecodeSettings
) -> list[RawDetections]:
    """Decode one batch of model outputs with the decoder for ``layout``; one result per image."""
    try:
        decoder = DECODERS[layout]
    except KeyError:
        raise UnsupportedModelError(
            f"unknown output layout {layout!r}; known: {', '.join(DECODERS)}"
        ) from None
    return decoder(outputs, settings)
