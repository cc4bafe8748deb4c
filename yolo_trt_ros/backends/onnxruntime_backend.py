"""ONNX Runtime backend: runs .onnx models on the CPU, or on CUDA / TensorRT execution providers.

Device strings: "cpu"; "cuda" or "cuda:N" (CUDAExecutionProvider); "tensorrt:N" (ONNX Runtime's
TensorRT execution provider, CUDA and CPU as fallback); "auto" takes CUDA when the installed
onnxruntime has it and the CPU otherwise. The package's own TensorRT backend, with its engine
cache, is the better way to TensorRT; the ONNX Runtime one exists for portability.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnxruntime

from yolo_trt_ros.backends.base import Backend, TensorSpec
from yolo_trt_ros.core.metadata import ModelMetadata, parse_ultralytics_metadata
from yolo_trt_ros.errors import BackendNotAvailableError, ModelLoadError, UnsupportedModelError

__all__ = ["OnnxRuntimeBackend", "execution_providers_for"]

_ELEMENT_TYPES: Final[dict[str, np.dtype[Any]]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(uint8)": np.dtype(np.uint8),
}
_CPU, _CUDA, _TENSORRT = (
    "CPUExecutionProvider",
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
)


def _device_index(device: str) -> int:
    _, _, index = device.partition(":")
    if index and not index.isdigit():
        raise BackendNotAvailableError(f"device {device!r} has a bad index: use e.g. cuda:0")
    return int(index or 0)


def execution_providers_for(
    device: str, available: Sequence[str]
) -> list[str | tuple[str, dict[str, Any]]]:
    """Map a device string to an ONNX Runtime provider list, or say why this onnxruntime cannot."""
    kind = device.partition(":")[0].lower()
    if kind == "auto":
        return [(_CUDA, {"device_id": 0}), _CPU] if _CUDA in available else [_CPU]
    if kind == "cpu":
        return [_CPU]
    needed = {"cuda": [_CUDA], "tensorrt": [_TENSORRT, _CUDA]}.get(kind)
    if needed is None:
        raise BackendNotAvailableError(
            f"the onnxruntime backend runs on cpu, cuda:N or tensorrt:N, not {device!r}"
        )
    missing = [p for p in needed if p not in available]
    if missing:
        raise BackendNotAvailableError(
            f"device {device} needs {', '.join(missing)}, but onnxruntime {onnxruntime.__version__} here has only "
            f"{', '.join(available)}: install onnxruntime-gpu, or use device cpu"
        )
    options = {"device_id": _device_index(device)}
    return [(p, options) for p in needed] + [_CPU]


def _spec(node: Any) -> TensorSpec:
    dtype = _ELEMENT_TYPES.get(node.type)
    if dtype is None:
        raise UnsupportedModelError(
            f"tensor {node.name} has element type {node.type}, which no YOLO model uses"
        )
    return TensorSpec(
        node.name, tuple(d if isinstance(d, int) else (d or None) for d in node.shape), dtype
    )


class OnnxRuntimeBackend(Backend):
    """A model in an ONNX Runtime inference session."""

    name = "onnxruntime"

    def __init__(self, session: onnxruntime.InferenceSession, path: Path) -> None:
        self._session: onnxruntime.InferenceSession | None = session
        self._path = path
        self._inputs = [_spec(node) for node in session.get_inputs()]
        self._outputs = [_spec(node) for node in session.get_outputs()]
        if len(self._inputs) != 1:
            raise UnsupportedModelError(
                f"{path.name} has {len(self._inputs)} inputs; a YOLO detector has one image input"
            )
        self._output_names = [spec.name for spec in self._outputs]
        self._metadata = parse_ultralytics_metadata(session.get_modelmeta().custom_metadata_map)
        self._provider = session.get_providers()[0]
        self._device = (
            "cpu"
            if self._provider == _CPU
            else f"cuda:{session.get_provider_options()[self._provider].get('device_id', 0)}"
        )

    @classmethod
    def load(
        cls, model_path: Path, *, device: str = "auto", intra_op_threads: int = 0, **options: Any
    ) -> OnnxRuntimeBackend:
        """Open an inference session; ``intra_op_threads`` 0 lets ONNX Runtime choose (one per core)."""
        if options:
            raise TypeError(f"unknown onnxruntime backend options: {', '.join(options)}")
        providers = execution_providers_for(device, onnxruntime.get_available_providers())
        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = intra_op_threads
        session_options.log_severity_level = 3  # errors only: the node logs what matters
        try:
            session = onnxruntime.InferenceSession(
                str(model_path), session_options, providers=providers
            )
        except Exception as error:
            raise ModelLoadError(
                f"ONNX Runtime cannot load {model_path}: {str(error).strip().splitlines()[0]} "
                "(is it a complete .onnx file? re-export or re-copy it)"
            ) from error
        return cls(session, model_path)

    @property
    def device(self) -> str:
        """Where the session runs: cpu or cuda:N, from the provider it actually uses."""
        return self._device

    @property
    def version(self) -> str:
        """e.g. "onnxruntime 1.31.1 (CPUExecutionProvider)"."""
        return f"onnxruntime {onnxruntime.__version__} ({self._provider})"

    @property
    def metadata(self) -> ModelMetadata:
        """Ultralytics metadata from the ONNX file (empty for other exporters)."""
        return self._metadata

    def infer(self, images: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Run the session on one batch."""
        if self._session is None:
            raise RuntimeError(f"the onnxruntime backend for {self._path.name} is closed")
        feed = {self._inputs[0].name: np.asarray(images, dtype=self._inputs[0].dtype)}
        outputs: list[npt.NDArray[np.generic]] = self._session.run(self._output_names, feed)
        return outputs

    def close(self) -> None:
        """Drop the session (ONNX Runtime frees it with the last reference)."""
        self._session = None
