"""Letterbox geometry with Ultralytics' semantics, and the box mapping between image and model input.

``LetterBox`` in Ultralytics resizes the image keeping its aspect ratio (each side rounded, never
below one pixel), then pads it with grey to the model input shape, centred, splitting odd padding
as ``round(d - 0.1)`` before and ``round(d + 0.1)`` after. In "rect" mode (dynamic-shape models)
the padding is reduced modulo the stride, so a 1920x1080 frame becomes a 640x384 input rather than
640x640. The geometry is computed once per image size and reused for the boxes on the way back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.errors import InvalidImageError, InvalidSettingError

__all__ = ["LetterboxGeometry", "compute_letterbox", "normalize_size"]

Boxes = npt.NDArray[np.float32]


def normalize_size(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Return (height, width) from an int or a (height, width) pair, checking both are positive."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and v > 0 for v in pair):
        raise InvalidSettingError(
            f"image size must be a positive int or (height, width), got {size!r}"
        )
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True)
class LetterboxGeometry:
    """Where a source image lands inside the model input, and how to map boxes back.

    ``source_hw`` is the original image, ``input_hw`` the model input tensor's spatial shape,
    ``resized_hw`` the scaled image inside it, whose top-left corner is at (``left``, ``top``).
    """

    source_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    top: int
    left: int

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Per-axis scale from source to input pixels (the rounded sides make them differ slightly)."""
        return self.resized_hw[1] / self.source_hw[1], self.resized_hw[0] / self.source_hw[0]

    @property
    def needs_resize(self) -> bool:
        """Whether the image must be resized at all (a same-size image is only padded)."""
        return self.resized_hw != self.source_hw

    def to_source(self, boxes: Boxes) -> Boxes:
        """Map xyxy boxes from model-input pixels to source pixels, clipped to the image (a new array)."""
        offset, scale, limit = self._to_source_constants
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) - offset
        out /= scale
        np.maximum(out, np.float32(0), out=out)  # as np.clip, at a fraction of its overhead
        np.minimum(out, limit, out=out)
        return out

    @cached_property
    def _to_source_constants(self) -> tuple[Boxes, Boxes, Boxes]:
        """Per-column offset, scale and upper clip of ``to_source``, as float32 rows.

        Whole-row float32 arithmetic against these gives the same operations and rounding as
        working column by column, without fancy indexing (``to_source`` runs once per frame).
        """
        scale_x, scale_y = self.scale_xy
        height, width = self.source_hw
        return (
            np.array([self.left, self.top, self.left, self.top], np.float32),
            np.array([scale_x, scale_y, scale_x, scale_y], np.float32),
            np.array([width, height, width, height], np.float32),
        )

    def to_input(self, boxes: Boxes) -> Boxes:
        """Map xyxy boxes from source pixels to model-input pixels (a new array; no clipping)."""
        scale_x, scale_y = self.scale_xy
        out = np.array(boxes, dtype=np.float32, copy=True).reshape(-1, 4)
        out[:, [0, 2]] = out[:, [0, 2]] * np.float32(scale_x) + self.left
        out[:, [1, 3]] = out[:, [1, 3]] * np.float32(scale_y) + self.top
        return out


def compute_letterbox(
    source_hw: tuple[int, int],
    target_hw: tuple[int, int],
    *,
    rect: bool = False,
    stride: int = 32,
    scaleup: bool = True,
) -> LetterboxGeometry:
    """Compute the letterbox geometry exactly as Ultralytics' ``LetterBox.get_params`` does.

    Args:
        source_hw: (height, width) of the image.
        target_hw: (height, width) the image must fit in (the model's image size).
        rect: shrink the padding to a multiple of ``stride`` (only for dynamic-shape models).
        stride: the model's largest stride; input sides stay multiples of it in rect mode.
        scaleup: allow enlarging small images (Ultralytics' default); False only shrinks.

    """
    height, width = int(source_hw[0]), int(source_hw[1])
    if height <= 0 or width <= 0:
        raise InvalidImageError(f"image has an empty side: {height}x{width} (height x width)")
    if stride <= 0:
        raise InvalidSettingError(f"stride must be positive, got {stride}")
    target_h, target_w = normalize_size(target_hw)
    ratio = min(target_h / height, target_w / width)
    if not scaleup:
        ratio = min(ratio, 1.0)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = target_w - new_w, target_h - new_h
    if rect:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    half_w, half_h = pad_w / 2, pad_h / 2  # centred, as Ultralytics' default
    top, bottom = round(half_h - 0.1), round(half_h + 0.1)
    left, right = round(half_w - 0.1), round(half_w + 0.1)
    return LetterboxGeometry(
        source_hw=(height, width),
        input_hw=(new_h + top + bottom, new_w + left + right),
        resized_hw=(new_h, new_w),
        top=top,
        left=left,
    )
