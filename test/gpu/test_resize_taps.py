"""The GPU letterbox's resize arithmetic, replayed in NumPy, equals cv2.resize bit for bit.

``letterbox.cu`` computes each pixel from the taps of ``yolo_trt_ros.gpu.resize_taps`` as
``((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2 >> 2`` with ``h = p0 * a0 + p1 * a1``. This test
runs exactly that formula on the CPU for many sizes, so the tables and the formula are proven
against OpenCV here, without a GPU; test_gpu_kernels.py then proves the kernel computes it.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from yolo_trt_ros.gpu.resize_taps import WEIGHT_ONE, column_taps, row_taps


def resize_like_the_kernel(
    image: npt.NDArray[np.uint8], width: int, height: int
) -> npt.NDArray[np.uint8]:
    source_h, source_w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    flat = image.reshape(source_h, source_w * channels).astype(np.int64)
    columns, rows = column_taps(source_w, width, channels), row_taps(source_h, height)
    out = np.empty((height, width, channels), np.int64)
    for channel in range(channels):
        horizontal = (
            flat[:, columns[:, 0] + channel] * columns[:, 2]
            + flat[:, columns[:, 1] + channel] * columns[:, 3]
        )
        top, bottom = horizontal[rows[:, 0]], horizontal[rows[:, 1]]
        out[..., channel] = (
            (((top >> 4) * rows[:, 2:3]) >> 16) + (((bottom >> 4) * rows[:, 3:4]) >> 16) + 2
        ) >> 2
    result = np.clip(out, 0, 255).astype(np.uint8)
    return result[..., 0] if image.ndim == 2 else result


SIZES = [
    # (source h, w, channels) -> (target h, w): letterbox shrinks, enlargements, odd sizes, exact 2x
    ((1080, 1920, 3), (360, 640)),
    ((720, 1280, 3), (360, 640)),
    ((480, 640, 3), (480, 640)),
    ((427, 640, 4), (427, 640)),
    ((37, 53, 3), (453, 640)),
    ((481, 641, 4), (479, 638)),
    ((1000, 3, 1), (640, 2)),
    ((90, 160, 3), (360, 640)),
    ((500, 333, 1), (640, 426)),
    ((1, 1, 3), (640, 640)),
    ((2, 7, 3), (1, 3)),
]


@pytest.mark.parametrize(("source", "target"), SIZES, ids=[f"{s}->{t}" for s, t in SIZES])
def test_kernel_arithmetic_matches_opencv_bit_for_bit(
    source: tuple[int, int, int], target: tuple[int, int]
) -> None:
    rng = np.random.default_rng(sum(source) + sum(target))
    height, width, channels = source
    image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image = image[..., 0] if channels == 1 else image
    expected = cv2.resize(image, (target[1], target[0]), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(resize_like_the_kernel(image, target[1], target[0]), expected)


def test_taps_stay_inside_the_image_and_same_size_is_identity() -> None:
    columns = column_taps(641, 1920, 4)
    assert columns[:, :2].min() >= 0 and columns[:, :2].max() <= 640 * 4
    assert set(columns[:, 0] % 4) == {0}
    rows = row_taps(37, 453)
    assert rows[:, :2].min() >= 0 and rows[:, :2].max() <= 36
    same = column_taps(5, 5, 3)
    assert same[:, 0].tolist() == [0, 3, 6, 9, 12]
    assert same[:, 2].tolist() == [WEIGHT_ONE] * 5 and same[:, 3].tolist() == [0] * 5


def test_bad_sides_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        row_taps(0, 10)
