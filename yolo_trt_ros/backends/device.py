"""Backends that run on CUDA device memory, so the GPU pipeline never copies the model's I/O.

A ``DeviceBackend`` owns one input buffer per input shape (made on first use of the shape and kept:
no allocation in the steady state). The GPU pipeline asks ``bind(shape)`` for that buffer, writes the
letterboxed image into it with its kernel, then calls ``enqueue(stream)``, which queues the model on
the same stream and returns the outputs as device arrays, valid until the next ``enqueue``. Nothing
here waits for the GPU: the pipeline synchronises once, when it needs the detections. The torch
backend implements this now; the TensorRT backend will implement the same three members.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from yolo_trt_ros.backends.base import Backend

if TYPE_CHECKING:  # the gpu package imports cuda-python; only type checkers need it here
    from yolo_trt_ros.gpu.runtime import CudaDevice, DeviceArray, Stream

__all__ = ["DeviceBackend"]


class DeviceBackend(Backend):
    """A backend whose model reads and writes device buffers, driven on the caller's stream."""

    @property
    @abstractmethod
    def cuda_device(self) -> CudaDevice:
        """The GPU the model runs on (its primary context)."""

    @abstractmethod
    def bind(self, input_shape: tuple[int, ...]) -> DeviceArray:
        """Select (preparing once per shape) the buffers for an input shape; return the input buffer."""

    @abstractmethod
    def enqueue(self, stream: Stream) -> Sequence[DeviceArray]:
        """Queue the model on the bound input, asynchronously on ``stream``; return its outputs."""
