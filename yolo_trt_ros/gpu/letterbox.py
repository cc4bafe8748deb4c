"""The GPU preprocessing step: a uint8 image in device memory -> the model's NCHW input, one launch.

``GpuLetterbox.enqueue`` writes the letterboxed, colour-ordered, /255-scaled FP16 or FP32 tensor
straight into a device array (the backend's input buffer) with the NVRTC kernel in
``letterbox.cu``. The geometry is ``core.letterbox.compute_letterbox``'s, the resampling OpenCV's
INTER_LINEAR bit for bit (``resize_taps``), so the result equals the CPU ``Preprocessor``'s. The
resize taps are uploaded once per (image size, channel count) and cached; a frame allocates nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.core.letterbox import LetterboxGeometry
from yolo_trt_ros.core.preprocess import PIXEL_FORMATS, Preprocessor
from yolo_trt_ros.cuda.runtime import (
    CudaDevice,
    CudaStream,
    DeviceArray,
    DeviceBuffer,
    copy_host_to_device_now,
)
from yolo_trt_ros.errors import CudaError, InvalidImageError
from yolo_trt_ros.gpu.kernels import Kernel, load_module
from yolo_trt_ros.gpu.resize_taps import column_taps, row_taps

__all__ = ["DeviceImage", "GpuLetterbox"]

_BLOCK: Final = (32, 8, 1)
_ARGUMENTS: Final = (
    "ptr",  # source
    "i64",  # source row step in bytes
    "ptr",  # column taps
    "ptr",  # row taps
    "ptr",  # output tensor
    *("i32",) * 9,  # out width, out height, top, left, resized width, height, channel r, g, b
    "f32",  # pad value
)
_MAX_TAP_TABLES: Final = 16


@dataclass(frozen=True)
class DeviceImage:
    """A packed uint8 image in device memory: ``step`` bytes per row, ``channels`` per pixel.

    ``full_height`` (default: ``height``) is the height of the camera image when the device image
    holds only the rows the resize reads (``GpuLetterbox.source_rows``), in order.
    """

    ptr: int
    height: int
    width: int
    channels: int
    step: int
    full_height: int = 0

    def __post_init__(self) -> None:
        if self.full_height == 0:
            object.__setattr__(self, "full_height", self.height)
        if self.height <= 0 or self.width <= 0 or self.channels not in (1, 3, 4):
            raise InvalidImageError(
                f"a device image needs positive sides and 1, 3 or 4 channels, got "
                f"{self.height}x{self.width}x{self.channels}"
            )
        if self.step < self.width * self.channels:
            raise InvalidImageError(
                f"row step {self.step} is shorter than a row of {self.width}x{self.channels} bytes"
            )

    @classmethod
    def from_cuda_array(cls, image: Any) -> DeviceImage:
        """Describe an (H, W[, C]) uint8 image already on the GPU, e.g. a decoder's output.

        ``image`` follows the CUDA Array Interface (``__cuda_array_interface__``, as nvImageCodec's
        images, CuPy and torch tensors do): the pipeline reads it in place, without a host copy.
        Pixels must be packed within a row (the rows may be padded).
        """
        interface = getattr(image, "__cuda_array_interface__", None)
        if not isinstance(interface, dict):
            raise InvalidImageError(
                f"expected an image on the GPU (__cuda_array_interface__), got {type(image).__name__}"
            )
        shape = tuple(int(side) for side in interface["shape"])
        if np.dtype(interface["typestr"]) != np.uint8 or len(shape) not in (2, 3):
            raise InvalidImageError(
                f"a GPU image must be (H, W[, C]) uint8, got {shape} {interface['typestr']}"
            )
        channels = 1 if len(shape) == 2 else shape[2]
        strides = interface.get("strides")
        packed = (channels, 1)[: len(shape) - 1]  # bytes to the next pixel (and channel)
        if strides is not None and tuple(int(s) for s in strides[1:]) != packed:
            raise InvalidImageError(f"a GPU image's pixels must be packed, got strides {strides}")
        step = int(strides[0]) if strides is not None else shape[1] * channels
        return cls(int(interface["data"][0]), shape[0], shape[1], channels, step)


@dataclass(frozen=True)
class _Resize:
    """A resize's taps on the device: columns, rows, and rows for a row-subset upload."""

    tables: DeviceBuffer
    rows: npt.NDArray[np.int64] | None
    width: int
    height: int

    @property
    def full_rows_ptr(self) -> int:
        return self.tables.ptr + self.width * 16

    @property
    def compact_rows_ptr(self) -> int:
        return self.tables.ptr + (self.width + self.height) * 16


class GpuLetterbox:
    """Letterbox device images into a model input tensor with one kernel launch per frame.

    Args:
        device: the GPU (kernels compile on first use, once per process).
        like: the CPU ``Preprocessor`` whose output to reproduce: its element type (float16 or
            float32), pad value and channel order (its geometry comes with each call).

    """

    def __init__(self, device: CudaDevice, like: Preprocessor) -> None:
        self.device = device
        self.dtype = like.dtype
        self.channel_order = like.channel_order
        # The CPU path fills float32(pad) / float32(255), cast to the buffer's type: same value.
        self.pad = float(np.float32(like.pad_value) / np.float32(255))
        suffix = "fp16" if self.dtype == np.float16 else "fp32"
        self._kernel = Kernel(
            load_module(device, "letterbox.cu"), f"letterbox_{suffix}", _ARGUMENTS
        )
        self._resizes: OrderedDict[tuple[int, int, int, int, int], _Resize] = OrderedDict()
        self._last_key: tuple[Any, ...] = ()
        self._last_launch: tuple[tuple[int, int, int], tuple[float, ...]] = ((0, 0, 0), ())

    def _resize(self, geometry: LetterboxGeometry, channels: int) -> _Resize:
        """Return (uploading once per size and channel count) the taps of a resize."""
        height, width = geometry.source_hw
        new_h, new_w = geometry.resized_hw
        key = (height, width, new_h, new_w, channels)
        resize = self._resizes.get(key)
        if resize is not None:
            self._resizes.move_to_end(key)
            return resize
        rows = row_taps(height, new_h)
        # Rows whose every tap has weight 0 (e.g. two of three rows when shrinking 1080 -> 360)
        # never reach the output: the upload can skip them. Compact taps index the rows kept.
        read = np.unique(np.concatenate([rows[rows[:, 2] != 0, 0], rows[rows[:, 3] != 0, 1]]))
        tables = [column_taps(width, new_w, channels), rows]
        if len(read) < height:
            first = np.searchsorted(read, np.where(rows[:, 2] != 0, rows[:, 0], rows[:, 1]))
            second = np.where(rows[:, 3] != 0, np.searchsorted(read, rows[:, 1]), first)
            tables.append(np.stack([first, second, rows[:, 2], rows[:, 3]], axis=1))
        host = np.ascontiguousarray(np.concatenate(tables).astype(np.int32))
        buffer = DeviceBuffer(self.device, host.nbytes)
        # Synchronous, and only on a new image size: the tables then stay for every frame.
        copy_host_to_device_now(buffer.ptr, host)
        resize = _Resize(buffer, read if len(read) < height else None, new_w, new_h)
        self._resizes[key] = resize
        if len(self._resizes) > _MAX_TAP_TABLES:
            self._resizes.popitem(last=False)[1].tables.close()
        return resize

    def source_rows(
        self, geometry: LetterboxGeometry, channels: int
    ) -> npt.NDArray[np.int64] | None:
        """Return the source rows the resize reads, or None when it reads every row.

        Uploading only these rows (``HostImageUploader.upload(rows=...)``) gives the same result.
        """
        return self._resize(geometry, channels).rows

    def enqueue(
        self,
        image: DeviceImage,
        pixel_format: str,
        geometry: LetterboxGeometry,
        out: DeviceArray,
        stream: CudaStream,
    ) -> None:
        """Queue the letterbox of ``image`` into ``out`` (shape (1, 3, H, W)) on ``stream``."""
        key = (image, pixel_format, geometry, out.ptr, out.shape, out.dtype)
        if key != self._last_key:  # a camera repeats the same call frame after frame
            self._last_launch = self._launch_arguments(image, pixel_format, geometry, out)
            self._last_key = key
        grid, arguments = self._last_launch
        self._kernel.launch(grid, _BLOCK, stream, *arguments)

    def _launch_arguments(
        self, image: DeviceImage, pixel_format: str, geometry: LetterboxGeometry, out: DeviceArray
    ) -> tuple[tuple[int, int, int], tuple[float, ...]]:
        """Check one call's arguments; return the kernel's grid and arguments for it."""
        if pixel_format not in PIXEL_FORMATS or pixel_format == "mono16":
            raise InvalidImageError(
                f"the GPU letterbox takes bgr8, rgb8, bgra8, rgba8 or mono8 pixels, not {pixel_format!r}"
            )
        channels, sources = PIXEL_FORMATS[pixel_format]
        if channels != image.channels:
            raise InvalidImageError(
                f"a {pixel_format} image has {channels} channel(s), this one {image.channels}"
            )
        if geometry.source_hw != (image.full_height, image.width):
            raise InvalidImageError(
                f"geometry is for a {geometry.source_hw} image, this one is {(image.full_height, image.width)}"
            )
        out_h, out_w = geometry.input_hw
        if out.shape != (1, 3, out_h, out_w) or out.dtype != self.dtype:
            raise CudaError(
                f"the input buffer is {out.shape} {out.dtype}, the letterbox makes "
                f"(1, 3, {out_h}, {out_w}) {self.dtype}"
            )
        if self.channel_order == "bgr":
            sources = sources[::-1]
        resize = self._resize(geometry, channels)
        new_h, new_w = geometry.resized_hw
        row_table = resize.full_rows_ptr
        if image.height != image.full_height:
            if resize.rows is None or image.height != len(resize.rows):
                raise InvalidImageError(
                    f"a device image with {image.height} of {image.full_height} rows must hold "
                    "exactly the rows source_rows() lists"
                )
            row_table = resize.compact_rows_ptr
        grid = ((out_w + _BLOCK[0] - 1) // _BLOCK[0], (out_h + _BLOCK[1] - 1) // _BLOCK[1], 1)
        arguments = (
            image.ptr,
            image.step,
            resize.tables.ptr,
            row_table,
            out.ptr,
            out_w,
            out_h,
            geometry.top,
            geometry.left,
            new_w,
            new_h,
            *sources,
            self.pad,
        )
        return grid, arguments

    def close(self) -> None:
        """Free the cached resize tables; safe to call twice."""
        self._last_key = ()
        while self._resizes:
            self._resizes.popitem()[1].tables.close()
