"""Host image -> device image through a pinned staging buffer, in bands that overlap copy and DMA.

A camera frame arrives in ordinary (pageable) memory. ``HostImageUploader.upload`` copies it into
page-locked memory band by band and queues each band's host-to-device copy as soon as it is
staged, so the DMA of one band runs while the CPU stages the next. Both buffers grow to the largest
frame seen and are then reused: a steady stream of frames allocates nothing. Any row step is
accepted: rows are packed on the way (the device image's step is its packed row size).
"""

from __future__ import annotations

import itertools
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.errors import InvalidImageError, InvalidSettingError
from yolo_trt_ros.gpu.letterbox import DeviceImage
from yolo_trt_ros.gpu.runtime import (
    CudaDevice,
    DeviceBuffer,
    Event,
    PinnedBuffer,
    Stream,
    copy_host_to_device,
)

__all__ = ["HostImageUploader"]

_MAX_IMAGE_BYTES: Final = 1 << 31  # the kernel indexes rows with 32-bit offsets per row step


class HostImageUploader:
    """Stage host images in pinned memory and copy them to the device asynchronously.

    Args:
        device: the GPU.
        bands: split frames of at least ``min_band_bytes`` per band into up to this many bands
            (1: one copy, then one DMA).
        min_band_bytes: smallest band worth its own copy call.

    """

    def __init__(
        self, device: CudaDevice, *, bands: int = 4, min_band_bytes: int = 1 << 19
    ) -> None:
        if bands < 1 or min_band_bytes < 1:
            raise InvalidSettingError(
                f"bands and min_band_bytes must be at least 1, got {bands} and {min_band_bytes}"
            )
        self.device = device
        self.bands = bands
        self.min_band_bytes = min_band_bytes
        self._pinned: PinnedBuffer | None = None
        self._device: DeviceBuffer | None = None
        self._staged = Event()
        self._in_flight = False

    def _reserve(self, nbytes: int, stream: Stream) -> tuple[PinnedBuffer, DeviceBuffer]:
        """Return buffers of at least ``nbytes``, growing (never shrinking) them when needed."""
        if self._pinned is None or self._device is None or self._pinned.nbytes < nbytes:
            stream.synchronize()  # only when a larger frame arrives: the old buffers may be in use
            self._free()
            capacity = max(nbytes, 1 << 20)
            self._pinned = PinnedBuffer(self.device, capacity)
            self._device = DeviceBuffer(self.device, capacity)
        return self._pinned, self._device

    def upload(self, pixels: npt.NDArray[np.uint8], stream: Stream) -> DeviceImage:
        """Queue the copy of an (H, W) or (H, W, C) uint8 image; return where it will be on the device.

        The caller must call ``consumed()`` once the stream has passed the kernels that read the
        image (after its frame's synchronisation); an upload before that waits for the last one.
        """
        if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
            raise InvalidImageError(
                f"the uploader takes (H, W[, C]) uint8 images, got {pixels.shape} {pixels.dtype}"
            )
        height, width = int(pixels.shape[0]), int(pixels.shape[1])
        channels = 1 if pixels.ndim == 2 else int(pixels.shape[2])
        row_bytes = width * channels
        nbytes = row_bytes * height
        if nbytes >= _MAX_IMAGE_BYTES:
            raise InvalidImageError(
                f"a {height}x{width}x{channels} image is too large for the GPU path"
            )
        if self._in_flight:  # the previous frame never completed: its DMA may still read the stage
            self._staged.synchronize()
        pinned, device = self._reserve(nbytes, stream)
        staged = pinned.array((height, row_bytes), np.uint8)
        rows = pixels.reshape(height, row_bytes) if pixels.flags.c_contiguous else None
        bands = max(1, min(self.bands, nbytes // self.min_band_bytes, height))
        edges = np.linspace(0, height, bands + 1).astype(int)
        for start, stop in itertools.pairwise(edges):
            source: Any = rows[start:stop] if rows is not None else pixels[start:stop]
            np.copyto(staged[start:stop], source.reshape(stop - start, row_bytes))
            offset = int(start) * row_bytes
            copy_host_to_device(
                device.ptr + offset, pinned.ptr + offset, int(stop - start) * row_bytes, stream
            )
        self._staged.record(stream)
        self._in_flight = True
        return DeviceImage(device.ptr, height, width, channels, row_bytes)

    def consumed(self) -> None:
        """Tell the uploader the last uploaded frame is done with (its stream was synchronised)."""
        self._in_flight = False

    def _free(self) -> None:
        if self._pinned is not None:
            self._pinned.close()
        if self._device is not None:
            self._device.close()
        self._pinned = self._device = None

    def close(self) -> None:
        """Free the staging and device buffers (after a copy still in flight); safe to call twice."""
        if self._in_flight and not self._staged.closed:
            self._staged.synchronize()
            self._in_flight = False
        self._free()
        self._staged.close()
