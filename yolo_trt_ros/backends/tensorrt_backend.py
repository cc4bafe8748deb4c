"""TensorRT backend: deserialize an engine, bind device buffers by name, run ``execute_async_v3``.

Buffers are allocated once, at each tensor's largest shape (the optimisation profile's maximum
for dynamic inputs), so steady-state inference allocates nothing on the device. Engines written
by Ultralytics (JSON header) and by our cache (JSON sidecar beside the engine) both carry class
names and sizes. Type-checked against ``tensorrt-stubs``; it needs a GPU with TensorRT to run.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.backends.base import Backend, TensorSpec
from yolo_trt_ros.core.metadata import ModelMetadata, parse_ultralytics_metadata
from yolo_trt_ros.engine.tensorrt_build import import_tensorrt
from yolo_trt_ros.engine.ultralytics_format import split_ultralytics_engine
from yolo_trt_ros.errors import BackendNotAvailableError, ModelLoadError

if TYPE_CHECKING:
    import tensorrt

__all__ = ["TensorRTBackend"]


def _cuda_runtime() -> Any:
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError as error:
        raise BackendNotAvailableError(
            f"the TensorRT backend needs cuda-python ({error}): pip install cuda-python"
        ) from None


def _check(result: Any, what: str) -> Any:
    """Unpack a cuda-python (status, value...) tuple, raising on an error status."""
    status, *values = result if isinstance(result, tuple) else (result,)
    if int(status) != 0:
        raise ModelLoadError(f"CUDA call {what} failed: {status}")
    return values[0] if len(values) == 1 else tuple(values)


def _dims(dims: tensorrt.Dims) -> tuple[int, ...]:
    """Convert a TensorRT Dims to a tuple of ints (-1 marks a dynamic dimension)."""
    return tuple(int(dims[i]) for i in range(len(dims)))


def _sidecar_metadata(engine_path: Path) -> dict[str, Any]:
    sidecar = engine_path.with_suffix(".json")
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return {}
    metadata = data.get("metadata") if isinstance(data, dict) else None
    return metadata if isinstance(metadata, dict) else {}


class TensorRTBackend(Backend):
    """A deserialized TensorRT engine with its execution context, stream and device buffers."""

    name = "tensorrt"

    def __init__(
        self, trt: Any, engine: tensorrt.ICudaEngine, device: str, metadata: ModelMetadata
    ) -> None:
        self._trt = trt
        self._engine: tensorrt.ICudaEngine | None = engine
        self._cuda = _cuda_runtime()
        self._context: tensorrt.IExecutionContext | None = engine.create_execution_context()
        self._stream = _check(self._cuda.cudaStreamCreate(), "cudaStreamCreate")
        self._device, self._metadata = device, metadata
        self._buffers: dict[str, int] = {}
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            shape = _dims(engine.get_tensor_shape(name))
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            largest = (
                _dims(engine.get_tensor_profile_shape(name, 0)[2])
                if is_input and -1 in shape
                else shape
            )
            self._buffers[name] = _check(
                self._cuda.cudaMalloc(max(int(np.prod(largest)), 1) * dtype.itemsize), "cudaMalloc"
            )
            self._context.set_tensor_address(name, self._buffers[name])
            spec = TensorSpec(name, tuple(d if d >= 0 else None for d in shape), dtype)
            (self._inputs if is_input else self._outputs).append(spec)

    @classmethod
    def load(cls, model_path: Path, *, device: str = "auto", **options: Any) -> TensorRTBackend:
        """Deserialize ``model_path`` (plain plan or Ultralytics .engine) for ``device``."""
        if options:
            raise TypeError(f"unknown tensorrt backend options: {', '.join(options)}")
        trt = import_tensorrt()
        header, plan = split_ultralytics_engine(model_path.read_bytes())
        runtime: tensorrt.Runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        kind, _, index = device.partition(":")
        if kind == "dla":
            runtime.DLA_core = int(index or 0)
        elif kind not in ("auto", "cuda"):
            raise BackendNotAvailableError(
                f"the tensorrt backend runs on cuda:N or dla:N, not {device!r}"
            )
        engine: tensorrt.ICudaEngine | None = runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise ModelLoadError(
                f"TensorRT {trt.__version__} cannot load {model_path}: it was built for another TensorRT version or GPU, "
                "or is damaged; rebuild it (export with force)"
            )
        metadata = parse_ultralytics_metadata(header or _sidecar_metadata(model_path))
        return cls(trt, engine, device if kind != "auto" else "cuda:0", metadata)

    @property
    def device(self) -> str:
        """cuda:N or dla:N."""
        return self._device

    @property
    def version(self) -> str:
        """e.g. "tensorrt 10.13.0.35"."""
        return f"tensorrt {self._trt.__version__}"

    @property
    def metadata(self) -> ModelMetadata:
        """From the Ultralytics header or our cache sidecar."""
        return self._metadata

    def infer(self, images: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Copy the batch in, run the engine on its stream, copy the outputs back, wait once."""
        if self._context is None:
            raise RuntimeError("the tensorrt backend is closed")
        cuda, spec = self._cuda, self._inputs[0]
        batch = np.ascontiguousarray(images, dtype=spec.dtype)
        self._context.set_input_shape(spec.name, batch.shape)
        host_to_device, device_to_host = (
            cuda.cudaMemcpyKind.cudaMemcpyHostToDevice,
            cuda.cudaMemcpyKind.cudaMemcpyDeviceToHost,
        )
        _check(
            cuda.cudaMemcpyAsync(
                self._buffers[spec.name],
                batch.ctypes.data,
                batch.nbytes,
                host_to_device,
                self._stream,
            ),
            "cudaMemcpyAsync",
        )
        if not self._context.execute_async_v3(self._stream):
            raise RuntimeError("TensorRT execute_async_v3 failed; see the TensorRT log")
        outputs = []
        for output in self._outputs:
            host = np.empty(_dims(self._context.get_tensor_shape(output.name)), output.dtype)
            _check(
                cuda.cudaMemcpyAsync(
                    host.ctypes.data,
                    self._buffers[output.name],
                    host.nbytes,
                    device_to_host,
                    self._stream,
                ),
                "cudaMemcpyAsync",
            )
            outputs.append(host)
        _check(cuda.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return outputs

    def close(self) -> None:
        """Free the device buffers and the stream, then the context and engine."""
        if self._context is None:
            return
        for pointer in self._buffers.values():
            self._cuda.cudaFree(pointer)
        self._buffers.clear()
        self._cuda.cudaStreamDestroy(self._stream)
        self._context = None
        self._engine = None
