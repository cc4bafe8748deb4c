"""Image -> model input tensor: letterbox, colour order, /255 scaling, NCHW, FP32 or FP16.

The result matches Ultralytics' ``LetterBox`` + ``preprocess`` pixel for pixel (same OpenCV bilinear
resize, pad value 114, BGR -> RGB, division by 255 in float32). It is written straight into a
buffer that is reused while the image size stays the same: the padding is filled once, and each
frame only resizes, splits the channels and writes the image area, one NumPy pass per channel.
Channel selection happens after the resize (bilinear resize treats channels independently), so a
BGRA or grayscale frame costs no extra conversion pass.
"""

from __future__ import annotations

from typing import Final, Literal

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.core.letterbox import LetterboxGeometry, compute_letterbox, normalize_size
from yolo_trt_ros.errors import InvalidImageError, InvalidSettingError

__all__ = ["PIXEL_FORMATS", "Preprocessor", "guess_pixel_format", "to_bgr8"]


# For each pixel format: channel count, and which source channel feeds tensor channels R, G, B.
PIXEL_FORMATS: Final[dict[str, tuple[int, tuple[int, int, int]]]] = {
    "bgr8": (3, (2, 1, 0)),
    "rgb8": (3, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "mono8": (1, (0, 0, 0)),
    "mono16": (1, (0, 0, 0)),
}
_CHANNELS_TO_FORMAT: Final = {1: "mono8", 3: "bgr8", 4: "bgra8"}


def guess_pixel_format(image: npt.NDArray[np.generic]) -> str:
    """Pick the pixel format of an array from its shape, with OpenCV's BGR convention (as Ultralytics)."""
    channels = 1 if image.ndim == 2 else int(image.shape[2]) if image.ndim == 3 else 0
    if channels not in _CHANNELS_TO_FORMAT:
        raise InvalidImageError(
            f"cannot use an image of shape {image.shape}: expected (H, W) grayscale or (H, W, C) with C in 1, 3, 4"
        )
    return "mono16" if image.dtype == np.uint16 and channels == 1 else _CHANNELS_TO_FORMAT[channels]


def _checked_pixels(image: npt.NDArray[np.generic], pixel_format: str) -> npt.NDArray[np.uint8]:
    """Validate an image against its pixel format; return uint8 pixels, (H, W) or (H, W, C)."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"expected a NumPy image array, got {type(image).__name__}")
    if pixel_format not in PIXEL_FORMATS:
        raise InvalidImageError(
            f"unsupported pixel format {pixel_format!r}; supported: {', '.join(PIXEL_FORMATS)}"
        )
    channels = PIXEL_FORMATS[pixel_format][0]
    shape_ok = (image.ndim == 2 and channels == 1) or (
        image.ndim == 3 and image.shape[2] == channels
    )
    if not shape_ok or image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidImageError(
            f"a {pixel_format} image needs {channels} channel(s) and no empty side, got shape {image.shape}"
        )
    wanted = np.uint16 if pixel_format == "mono16" else np.uint8
    if image.dtype != wanted:
        raise InvalidImageError(
            f"a {pixel_format} image must be {np.dtype(wanted).name}, got {image.dtype}"
        )
    if pixel_format == "mono16":  # keep the high byte, as OpenCV's imread and Ultralytics do
        return (image.astype(np.uint16) >> 8).astype(np.uint8)
    pixels = image.reshape(image.shape[:2]) if image.ndim == 3 and channels == 1 else image
    # OpenCV takes any row step, but each row's pixels must be packed.
    if pixels.strides[-1] != pixels.itemsize or (
        pixels.ndim == 3 and pixels.strides[1] != channels * pixels.itemsize
    ):
        pixels = np.ascontiguousarray(pixels)
    return pixels  # type: ignore[return-value]


_TO_BGR: Final = {
    "rgb8": cv2.COLOR_RGB2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR,
    "rgba8": cv2.COLOR_RGBA2BGR,
    "mono8": cv2.COLOR_GRAY2BGR,
    "mono16": cv2.COLOR_GRAY2BGR,
}


def to_bgr8(
    image: npt.NDArray[np.generic], pixel_format: str | None = None
) -> npt.NDArray[np.uint8]:
    """Return an image as (H, W, 3) BGR uint8, whatever its pixel format (for drawing).

    bgr8 comes back as the checked pixels themselves, not a copy (``draw_detections`` copies).
    """
    pixel_format = pixel_format or guess_pixel_format(image)
    pixels = _checked_pixels(image, pixel_format)
    if pixel_format == "bgr8":
        return np.asarray(pixels, np.uint8)
    return np.asarray(cv2.cvtColor(pixels, _TO_BGR[pixel_format]), np.uint8)


class Preprocessor:
    """Turn images into letterboxed NCHW tensors for one model input size.

    The returned tensor is a view of an internal buffer, overwritten by the next call: run the
    model on it (or copy it) before preprocessing the next frame.
    """

    def __init__(
        self,
        input_size: int | tuple[int, int],
        *,
        rect: bool = False,
        stride: int = 32,
        dtype: npt.DTypeLike = np.float32,
        pad_value: int = 114,
        scaleup: bool = True,
        channel_order: Literal["rgb", "bgr"] = "rgb",
    ) -> None:
        self.input_size = normalize_size(input_size)
        self.rect = rect
        self.stride = stride
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float16):
            raise InvalidSettingError(f"input tensors are float32 or float16, not {self.dtype}")
        if not 0 <= pad_value <= 255:
            raise InvalidSettingError(f"pad value must be within 0..255, got {pad_value}")
        if channel_order not in ("rgb", "bgr"):
            raise InvalidSettingError(
                f"channel order must be 'rgb' or 'bgr', got {channel_order!r}"
            )
        self.pad_value = pad_value
        self.scaleup = scaleup
        self.channel_order = channel_order
        self._geometries: dict[tuple[int, int], LetterboxGeometry] = {}
        self._buffer: npt.NDArray[np.floating] = np.empty((1, 3, 0, 0), self.dtype)
        self._buffer_geometry: LetterboxGeometry | None = None

    def geometry(self, source_hw: tuple[int, int]) -> LetterboxGeometry:
        """Return (and cache) the letterbox geometry for an image size."""
        key = (int(source_hw[0]), int(source_hw[1]))
        if key not in self._geometries:
            if len(self._geometries) > 64:  # a camera rarely changes size; bound the cache anyway
                self._geometries.clear()
            self._geometries[key] = compute_letterbox(
                key, self.input_size, rect=self.rect, stride=self.stride, scaleup=self.scaleup
            )
        return self._geometries[key]

    def __call__(
        self, image: npt.NDArray[np.generic], pixel_format: str | None = None
    ) -> tuple[npt.NDArray[np.floating], LetterboxGeometry]:
        """Return the (1, 3, H, W) input tensor for an image, and the geometry to map boxes back.

        Args:
            image: (H, W) or (H, W, C) uint8 pixels (uint16 for mono16); any row step.
            pixel_format: one of PIXEL_FORMATS; by default guessed from the shape with OpenCV's
                BGR convention (3 channels = bgr8, 4 = bgra8, 2-D = mono8).

        """
        pixel_format = pixel_format or guess_pixel_format(image)
        pixels = _checked_pixels(image, pixel_format)
        geometry = self.geometry((pixels.shape[0], pixels.shape[1]))
        buffer = self._prepare_buffer(geometry)
        if geometry.needs_resize:
            new_h, new_w = geometry.resized_hw
            pixels = np.asarray(
                cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_LINEAR), np.uint8
            )
        sources = PIXEL_FORMATS[pixel_format][1]
        if self.channel_order == "bgr":
            sources = sources[::-1]
        top, left = geometry.top, geometry.left
        height, width = geometry.resized_hw
        scale = self.dtype.type(255)
        # cv2.split packs each channel first: dividing packed planes is ~40% faster than strided views.
        planes = cv2.split(pixels) if pixels.ndim == 3 else (pixels,) * 3
        for channel, source in enumerate(sources):
            np.divide(
                planes[source],
                scale,
                out=buffer[0, channel, top : top + height, left : left + width],
            )
        return buffer, geometry

    def _prepare_buffer(self, geometry: LetterboxGeometry) -> npt.NDArray[np.floating]:
        """Reuse the buffer when the geometry repeats; otherwise (re)allocate and fill the padding."""
        if geometry != self._buffer_geometry:
            input_h, input_w = geometry.input_hw
            if self._buffer.shape[2:] != (input_h, input_w):
                self._buffer = np.empty((1, 3, input_h, input_w), self.dtype)
            self._buffer.fill(np.float32(self.pad_value) / np.float32(255))
            self._buffer_geometry = geometry
        return self._buffer
