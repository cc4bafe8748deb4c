"""OpenCV's INTER_LINEAR taps for 8-bit images, precomputed once per image size for the GPU kernel.

``cv2.resize`` with INTER_LINEAR maps output pixel ``d`` to source coordinate
``(d + 0.5) * scale - 0.5`` (``scale = 1 / (dst / src)`` in double, the coordinate in float),
takes the two neighbours ``floor`` and ``floor + 1``, clamps at the borders, and for uint8 images
turns the weights into 11-bit fixed point (``rint(w * 2048)``, each weight rounded on its own).
Columns whose left neighbour is before the image, or right one past it, use the edge pixel alone
(weight 2048); rows are only clamped. These tables reproduce exactly that, so the kernel in
``letterbox.cu`` resizes bit for bit like OpenCV (checked against ``cv2.resize`` in the tests).
NumPy only: no CUDA needed to build or test them.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["WEIGHT_ONE", "column_taps", "row_taps"]

WEIGHT_ONE: Final = 2048  # OpenCV's INTER_RESIZE_COEF_SCALE

Taps = npt.NDArray[np.int32]


def _coordinates(source: int, target: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Return floor and fraction of each output pixel's source coordinate, as OpenCV computes them."""
    if source <= 0 or target <= 0:
        raise ValueError(f"resize sides must be positive, got {source} -> {target}")
    scale = 1.0 / (target / source)
    position = ((np.arange(target, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(position).astype(np.int64)
    return first, (position - first.astype(np.float32)).astype(np.float32)


def _weights(fraction: npt.NDArray[np.float32]) -> tuple[Taps, Taps]:
    one = np.float32(WEIGHT_ONE)
    return (
        np.rint((np.float32(1) - fraction) * one).astype(np.int32),
        np.rint(fraction * one).astype(np.int32),
    )


def column_taps(source_width: int, target_width: int, channels: int) -> Taps:
    """Return (target_width, 4) int32: byte offsets of the two source pixels and their weights."""
    first, fraction = _coordinates(source_width, target_width)
    outside = (first < 0) | (first >= source_width - 1)
    fraction[outside] = 0
    first = np.clip(first, 0, source_width - 1)
    second = np.minimum(first + 1, source_width - 1)
    weight_first, weight_second = _weights(fraction)
    return np.stack(
        [first * channels, second * channels, weight_first, weight_second], axis=1
    ).astype(np.int32)


def row_taps(source_height: int, target_height: int) -> Taps:
    """Return (target_height, 4) int32: indices of the two source rows and their weights."""
    first, fraction = _coordinates(source_height, target_height)
    weight_first, weight_second = _weights(fraction)
    return np.stack(
        [
            np.clip(first, 0, source_height - 1),
            np.clip(first + 1, 0, source_height - 1),
            weight_first,
            weight_second,
        ],
        axis=1,
    ).astype(np.int32)
