"""Letterbox geometry and preprocessing: shapes, padding, pixel formats, and box round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolo_trt_ros.core.letterbox import compute_letterbox, normalize_size
from yolo_trt_ros.core.preprocess import Preprocessor
from yolo_trt_ros.errors import InvalidImageError, InvalidSettingError

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "ultralytics_reference.json").read_text()
)
PAD = np.float32(114) / np.float32(255)

# (height, width): odd sides, portrait, landscape, tiny, slivers, huge.
SIZES = [
    (1080, 810),
    (720, 1280),
    (481, 641),
    (333, 777),
    (1, 1),
    (7, 3),
    (1, 3000),
    (3000, 1),
    (6000, 8000),
    (640, 640),
]


@pytest.mark.parametrize("source_hw", SIZES)
@pytest.mark.parametrize("rect", [False, True])
def test_geometry_invariants(source_hw: tuple[int, int], rect: bool) -> None:
    geometry = compute_letterbox(source_hw, (640, 640), rect=rect, stride=32)
    (in_h, in_w), (new_h, new_w) = geometry.input_hw, geometry.resized_hw
    if rect:
        assert in_h % 32 == 0 or in_h == new_h, (
            "rect inputs keep their padded side a multiple of the stride"
        )
        assert in_h <= 640 and in_w <= 640
    else:
        assert (in_h, in_w) == (640, 640)
    assert 1 <= new_h <= in_h and 1 <= new_w <= in_w
    assert max(new_h, new_w) == 640 or min(new_h, new_w) == 1, "the long side fills the target"
    bottom, right = in_h - new_h - geometry.top, in_w - new_w - geometry.left
    assert 0 <= geometry.top <= bottom <= geometry.top + 1, (
        "padding is centred, any odd pixel at the bottom"
    )
    assert 0 <= geometry.left <= right <= geometry.left + 1
    scale_x, scale_y = geometry.scale_xy
    if min(new_h, new_w) > 1:  # a 1-pixel sliver side is clamped up, not scaled
        assert abs(new_w - source_hw[1] * scale_y) <= 1.0, "aspect ratio is kept to within rounding"
        assert abs(scale_x / scale_y - 1) <= 1.0 / min(new_h, new_w) + 1e-9


def test_geometry_matches_every_reference_input_shape() -> None:
    for case in REFERENCE["cases"]:
        height, width = case["image_shape"][:2]
        size = normalize_size(case["kwargs"]["imgsz"])
        geometry = compute_letterbox((height, width), size, rect=case["kwargs"].get("rect", True))
        assert [1, 3, *geometry.input_hw] == case["input_shape"], case["call"]


def test_zidane_rect_geometry_by_hand() -> None:
    # 1280x720 at 640: scale 0.5 -> 640x360; 280 rows of padding, 280 % 32 = 24, 12 above and below.
    geometry = compute_letterbox((720, 1280), (640, 640), rect=True)
    assert (geometry.resized_hw, geometry.input_hw, geometry.top, geometry.left) == (
        (360, 640),
        (384, 640),
        12,
        0,
    )


def test_scaleup_false_only_shrinks() -> None:
    small = compute_letterbox((100, 200), (640, 640), scaleup=False)
    assert small.resized_hw == (100, 200) and not small.needs_resize
    assert compute_letterbox((1280, 2560), (640, 640), scaleup=False).resized_hw == (320, 640)


@pytest.mark.parametrize("source_hw", SIZES)
def test_boxes_round_trip(source_hw: tuple[int, int]) -> None:
    geometry = compute_letterbox(source_hw, (640, 640), rect=True)
    height, width = source_hw
    rng = np.random.default_rng(7)
    corners = np.sort(rng.uniform(0, 1, (50, 2, 2)), axis=1)  # x1 <= x2, y1 <= y2
    boxes = np.stack(
        [
            corners[:, 0, 0] * width,
            corners[:, 0, 1] * height,
            corners[:, 1, 0] * width,
            corners[:, 1, 1] * height,
        ],
        1,
    ).astype(np.float32)
    back = geometry.to_source(geometry.to_input(boxes))
    np.testing.assert_allclose(back, boxes, atol=1e-3 * max(height, width, 1) + 1e-3)


def test_boxes_are_clipped_to_the_image() -> None:
    geometry = compute_letterbox((480, 640), (640, 640))
    outside = np.array([[-50, -50, 700, 700]], np.float32)
    np.testing.assert_array_equal(geometry.to_source(outside), [[0, 0, 640, 480]])


@pytest.mark.parametrize("bad", [0, -3, (640,), (640, 0), (1.5, 2), "640"])
def test_bad_sizes_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidSettingError, match="image size"):
        normalize_size(bad)  # type: ignore[arg-type]


def _bgr(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_tensor_layout_and_padding_values() -> None:
    image = _bgr(240, 320)
    tensor, geometry = Preprocessor(640)(image)
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    top, left, (h, w) = geometry.top, geometry.left, geometry.resized_hw
    assert (top, left, h, w) == (80, 0, 480, 640)
    assert np.all(tensor[0, :, :top] == PAD) and np.all(tensor[0, :, top + h :] == PAD)
    expected = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1].transpose(
        2, 0, 1
    ) / np.float32(255)
    np.testing.assert_array_equal(tensor[0, :, top : top + h, left : left + w], expected)


def test_pixel_formats_agree() -> None:
    bgr = _bgr(123, 457)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    alpha = np.random.default_rng(1).integers(0, 256, bgr.shape[:2], dtype=np.uint8)
    preprocess = Preprocessor(320, rect=True)
    reference = preprocess(bgr)[0].copy()
    np.testing.assert_array_equal(preprocess(bgr[:, :, ::-1].copy(), "rgb8")[0], reference)
    np.testing.assert_array_equal(
        preprocess(np.dstack([bgr, alpha]))[0], reference
    )  # bgra8: alpha ignored
    np.testing.assert_array_equal(
        preprocess(np.dstack([bgr[:, :, ::-1], alpha]), "rgba8")[0], reference
    )
    gray_as_bgr = preprocess(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))[0].copy()
    np.testing.assert_array_equal(preprocess(gray)[0], gray_as_bgr)
    np.testing.assert_array_equal(preprocess(gray[:, :, None])[0], gray_as_bgr)
    np.testing.assert_array_equal(
        preprocess(gray.astype(np.uint16) * 256 + 77, "mono16")[0], gray_as_bgr
    )


def test_model_channel_order_bgr_reverses_channels() -> None:
    image = _bgr(100, 100)
    rgb = Preprocessor(64)(image)[0].copy()
    bgr = Preprocessor(64, channel_order="bgr")(image)[0]
    np.testing.assert_array_equal(bgr[0, ::-1], rgb[0])


def test_row_step_and_strided_views() -> None:
    wide = _bgr(200, 400)
    view = wide[:, 50:350]  # rows keep their 400-pixel step, as ROS images with padding do
    preprocess = Preprocessor(256, rect=True)
    np.testing.assert_array_equal(
        preprocess(view)[0].copy(), preprocess(np.ascontiguousarray(view))[0]
    )
    sparse = wide[::2, ::2]  # pixels not packed within a row
    np.testing.assert_array_equal(
        preprocess(sparse)[0].copy(), preprocess(np.ascontiguousarray(sparse))[0]
    )


def test_buffer_reuse_across_sizes_matches_fresh_preprocessor() -> None:
    shared = Preprocessor(320, rect=True)
    for seed, (height, width) in enumerate(
        [(300, 400), (120, 640), (300, 400), (640, 100), (300, 400)]
    ):
        image = _bgr(height, width, seed)
        np.testing.assert_array_equal(shared(image)[0], Preprocessor(320, rect=True)(image)[0])


def test_fp16_output_is_close_to_fp32() -> None:
    image = _bgr(333, 500)
    half, _ = Preprocessor(320, dtype=np.float16)(image)
    full, _ = Preprocessor(320)(image)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), full, atol=1e-3)


@pytest.mark.parametrize(
    ("image", "pixel_format", "message"),
    [
        (np.zeros((10, 10, 2), np.uint8), None, "shape"),
        (np.zeros((10, 10, 5), np.uint8), None, "shape"),
        (np.zeros((0, 10, 3), np.uint8), "bgr8", "empty"),
        (np.zeros((10, 10, 3), np.float32), "bgr8", "uint8"),
        (np.zeros((10, 10, 3), np.uint8), "mono8", "1 channel"),
        (np.zeros((10, 10, 3), np.uint8), "yuv422", "unsupported pixel format"),
        (np.zeros((2, 10, 10, 3), np.uint8), None, "shape"),
    ],
)
def test_bad_images_raise_clear_errors(
    image: np.ndarray, pixel_format: str | None, message: str
) -> None:
    with pytest.raises(InvalidImageError, match=message):
        Preprocessor(64)(image, pixel_format)


def test_not_an_array_is_rejected() -> None:
    with pytest.raises(InvalidImageError, match="NumPy"):
        Preprocessor(64)([[1, 2, 3]], "bgr8")  # type: ignore[arg-type]


def test_bad_preprocessor_settings() -> None:
    with pytest.raises(InvalidSettingError):
        Preprocessor(64, dtype=np.int8)
    with pytest.raises(InvalidSettingError):
        Preprocessor(64, pad_value=300)


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (1, 3000, 3), (3000, 1), (6000, 8000, 3), (17, 23, 4)]
)
def test_extreme_images_preprocess(shape: tuple[int, ...]) -> None:
    image = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    tensor, geometry = Preprocessor(640, rect=True)(image)
    assert tensor.shape == (1, 3, *geometry.input_hw)
    assert geometry.source_hw == shape[:2]
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0
    top, left, (h, w) = geometry.top, geometry.left, geometry.resized_hw
    padded = np.ones(geometry.input_hw, bool)
    padded[top : top + h, left : left + w] = False
    assert np.all(tensor[0][:, padded] == PAD)
