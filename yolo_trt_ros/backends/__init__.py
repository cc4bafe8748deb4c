"""Inference backends behind one interface, chosen by a registry (no runtime imported until used)."""

from yolo_trt_ros.backends.base import Backend, TensorSpec
from yolo_trt_ros.backends.registry import (
    BACKENDS,
    available_backends,
    load_backend,
    resolve_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "TensorSpec",
    "available_backends",
    "load_backend",
    "resolve_backend",
]
