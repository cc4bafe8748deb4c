"""Draw detections on an image: a box and a "name 0.87" label per detection, one colour per class.

The look follows Ultralytics' annotator: its 20-colour palette indexed by class id, line width
scaled with the image size, the label on a filled background above the box (inside it when the
box touches the top edge), black or white text, whichever reads better on the class colour.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.errors import InvalidImageError

__all__ = ["PALETTE", "class_color", "default_line_width", "draw_detections"]

_PALETTE_HEX: Final = (
    "FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334",
    "00D4BB", "2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF",
    "FF95C8", "FF37C7",
)  # fmt: skip
PALETTE: Final[tuple[tuple[int, int, int], ...]] = tuple(
    (int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)) for h in _PALETTE_HEX
)
"""Ultralytics' class colours, as BGR tuples."""


def class_color(class_id: int) -> tuple[int, int, int]:
    """Return the BGR colour of a class id (the palette repeats every 20 classes)."""
    return PALETTE[int(class_id) % len(PALETTE)]


def default_line_width(image_hw: tuple[int, int]) -> int:
    """Return Ultralytics' line width for an image size: 0.3% of the mean side, at least 2."""
    return max(round((image_hw[0] + image_hw[1] + 3) / 2 * 0.003), 2)


def _text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Return black or white, whichever contrasts more with a BGR background."""
    blue, green, red = background
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else (255, 255, 255)


def draw_detections(
    image: npt.NDArray[np.uint8], detections: Detections, *, line_width: int | None = None
) -> npt.NDArray[np.uint8]:
    """Return a copy of an (H, W, 3) uint8 BGR image with each detection's box and label drawn.

    Args:
        image: the image the detections were made on; it is not modified.
        detections: boxes in the image's pixels (non-finite boxes are skipped).
        line_width: box line width in pixels; by default scaled with the image size.

    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(
            f"expected an (H, W, 3) BGR image, got {getattr(image, 'shape', image)}"
        )
    if image.dtype != np.uint8:
        raise InvalidImageError(f"expected a uint8 image, got {image.dtype}")
    canvas = np.array(image, dtype=np.uint8, order="C", copy=True)
    height, width = canvas.shape[:2]
    lw = max(int(line_width), 1) if line_width is not None else default_line_width((height, width))
    font_scale, font_thickness = lw / 3, max(lw - 1, 1)
    boxes = np.asarray(detections.boxes, np.float64)
    finite = np.isfinite(boxes).all(axis=1)
    limits = [width - 1, height - 1, width - 1, height - 1]
    corners = np.clip(boxes[finite], 0, limits).astype(int)
    for (x1, y1, x2, y2), score, class_id in zip(
        corners.tolist(),
        detections.scores[finite].tolist(),
        detections.class_ids[finite].tolist(),
        strict=True,
    ):
        color = class_color(class_id)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness=lw)
        label = f"{detections.name_of(class_id)} {score:.2f}"
        (text_w, text_h), _ = cv2.getTextSize(
            label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, font_thickness
        )
        above = y1 >= text_h + 3  # room for the label above the box?
        top = y1 - text_h - 3 if above else y1
        cv2.rectangle(canvas, (x1, top), (x1 + text_w, top + text_h + 3), color, cv2.FILLED)
        cv2.putText(
            canvas,
            label,
            (x1, top + text_h + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            _text_color(color),
            font_thickness,
            cv2.LINE_AA,
        )
    return canvas
