"""Backends that run on CUDA device memory, so the GPU pipeline never copies the model's I/O.

A ``DeviceBackend`` hands out one ``DeviceBinding`` per input shape (prepared on first use of the
shape and kept: no allocation in the steady state). A binding owns the model's input buffer and
knows how to queue the model on it: the GPU pipeline writes the letterboxed image into
``binding.input`` with its kernel, then calls ``binding.enqueue(stream)``, which queues the model on
the same stream and returns the outputs as device arrays, valid until that binding's next enqueue.
Nothing here waits for the GPU: the pipeline synchronises once, when it needs the detections.

A binding carries its own state, so nothing couples two calls on the backend in time, and the host
path (``infer``: copy in, enqueue, copy out) is written once, here, for every device backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.backends.base import Backend

if TYPE_CHECKING:  # the cuda package imports cuda-python; only type checkers need it here
    from yolo_trt_ros.cuda.runtime import CudaDevice, CudaStream, DeviceArray

__all__ = ["DeviceBackend", "DeviceBinding"]


class DeviceBinding(ABC):
    """The model prepared for one input shape: its input buffer, and a way to queue it."""

    @property
    @abstractmethod
    def input(self) -> DeviceArray:
        """The device buffer the model reads; write the input batch here before ``enqueue``."""

    @abstractmethod
    def enqueue(self, stream: CudaStream) -> Sequence[DeviceArray]:
        """Queue the model on ``stream`` (asynchronously); return its outputs in output order."""


class DeviceBackend(Backend):
    """A backend whose model reads and writes device buffers, driven on the caller's stream.

    Subclasses implement ``cuda_device``, ``binding`` and ``_close_device``; ``infer`` (the host
    path) and ``close`` are shared.
    """

    _host_stream: CudaStream | None = None

    @property
    @abstractmethod
    def cuda_device(self) -> CudaDevice:
        """The GPU the model runs on (its primary context)."""

    @abstractmethod
    def binding(self, input_shape: tuple[int, ...]) -> DeviceBinding:
        """Return the binding for an input shape, preparing it on first use."""

    @abstractmethod
    def _close_device(self) -> None:
        """Release the bindings, the model and the device; safe to call twice."""

    def infer(self, images: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Run one host batch: copy it in, queue the model, copy the outputs back, wait once."""
        from yolo_trt_ros.cuda.runtime import (  # noqa: PLC0415 - cuda-python only where used
            CudaStream,
            copy_device_to_host,
            copy_host_to_device,
        )

        device = self.cuda_device
        device.make_current()
        if self._host_stream is None:
            self._host_stream = CudaStream(device)
        stream = self._host_stream
        binding = self.binding(tuple(int(d) for d in images.shape))
        batch = np.ascontiguousarray(images, dtype=binding.input.dtype)
        copy_host_to_device(binding.input.ptr, batch.ctypes.data, batch.nbytes, stream)
        outputs = []
        for output in binding.enqueue(stream):
            host = np.empty(output.shape, output.dtype)
            copy_device_to_host(host.ctypes.data, output.ptr, output.nbytes, stream)
            outputs.append(host)
        stream.synchronize()
        return outputs

    def close(self) -> None:
        """Release the host path's stream, then the model and its device memory."""
        if self._host_stream is not None:
            self._host_stream.synchronize()
            self._host_stream.close()
            self._host_stream = None
        self._close_device()
