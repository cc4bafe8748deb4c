"""TensorRT backend: a deserialized engine driven with ``execute_async_v3`` on device buffers.

A ``DeviceBackend`` on the package's CUDA layer (``yolo_trt_ros.cuda.runtime``): the engine is
deserialized in the primary context of the GPU that ``cuda:N`` names (``dla:N`` runs on a Jetson's
DLA core N, with its I/O in GPU 0's memory). Each input shape gets a binding: its input and output
buffers, allocated once, with the output shapes TensorRT reports for that input. A binding's
``enqueue`` sets the shape and tensor addresses only when another binding ran last, so a steady
stream of one frame size is one ``execute_async_v3`` call per frame and allocates nothing.

CUDA graphs (backend option ``cuda_graph``, default on for GPUs): once a binding has run twice in
a row, its ``execute_async_v3`` is captured and then replayed with one launch. Enqueuing a YOLO
engine is hundreds of kernel launches, about a millisecond of host time on TensorRT 8.6, which a
replay saves. Any change of input shape forgets every graph, since the context's state moved
(dynamic shapes may live in memory the graph reads), so alternating shapes simply never capture.
A capture TensorRT or the driver refuses is tried again after two more plain runs; the third
refusal turns graphs off for this engine and says why in ``version``. The frame always runs.

Engines written by Ultralytics (JSON header) and by our cache (JSON sidecar beside the engine) both
carry class names and sizes. Runs on TensorRT 8.6 (JetPack 6.0), 10.x and 11.x: the calls used
here (named I/O tensors, ``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``) exist
in all of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from yolo_trt_ros.backends.base import TensorSpec
from yolo_trt_ros.backends.device import DeviceBackend, DeviceBinding
from yolo_trt_ros.core.metadata import ModelMetadata, parse_ultralytics_metadata
from yolo_trt_ros.cuda.runtime import CudaDevice, CudaGraph, CudaStream, DeviceArray, DeviceBuffer
from yolo_trt_ros.engine.tensorrt_build import import_tensorrt
from yolo_trt_ros.engine.ultralytics_format import split_ultralytics_engine
from yolo_trt_ros.errors import (
    BackendNotAvailableError,
    InferenceError,
    ModelLoadError,
    UnsupportedModelError,
)

if TYPE_CHECKING:
    import tensorrt

__all__ = ["TensorRTBackend", "parse_device"]

_MAX_SHAPES: Final = 8  # input shapes kept prepared at once (a camera rarely changes size)
_CAPTURE_TRIES: Final = 3  # refused captures before graphs are off for the engine


def parse_device(device: str) -> tuple[str, int]:
    """Split "auto", "cuda", "cuda:N" or "dla:N" into ("cuda" | "dla", N)."""
    kind, _, index = device.partition(":")
    if kind == "auto" and not index:
        return "cuda", 0
    if kind not in ("cuda", "dla") or (index and not index.isdigit()):
        raise BackendNotAvailableError(
            f"the tensorrt backend runs on cuda, cuda:N or dla:N, not {device!r}"
        )
    return kind, int(index or 0)


def _dims(dims: Any) -> tuple[int, ...]:
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


class _TensorRTBinding(DeviceBinding):
    """One input shape: the buffers, allocated once, and the outputs' device views."""

    def __init__(self, backend: TensorRTBackend, shape: tuple[int, ...]) -> None:
        self._backend = backend
        self.shape = shape
        self.graph: CudaGraph | None = None  # the captured execute, while this binding stays active
        self.runs_in_a_row = 0
        context = backend._require_context()
        spec = backend._inputs[0]
        if not context.set_input_shape(spec.name, shape):
            raise UnsupportedModelError(
                f"the engine does not take input {shape} (its input {spec.name} is {spec.shape}); "
                "rebuild the engine for this size, or build it with dynamic shapes"
            )
        device = backend.cuda_device
        self._buffers: list[DeviceBuffer] = []
        try:
            self._input = self._allocate(device, shape, spec.dtype)
            self._outputs = [
                self._allocate(device, _dims(context.get_tensor_shape(out.name)), out.dtype)
                for out in backend._outputs
            ]
        except Exception:  # out of memory, an output TensorRT cannot size: free what was taken
            self.close()
            raise
        self._addresses = [(spec.name, self._input.ptr)] + [
            (out.name, array.ptr)
            for out, array in zip(backend._outputs, self._outputs, strict=True)
        ]

    def _allocate(self, device: CudaDevice, shape: tuple[int, ...], dtype: Any) -> DeviceArray:
        if any(d < 0 for d in shape):
            raise UnsupportedModelError(
                f"TensorRT cannot tell an output's size in advance ({shape}): data-dependent output "
                "shapes are not supported; export the model with fixed-size outputs"
            )
        dtype = np.dtype(dtype)
        buffer = DeviceBuffer(device, max(int(np.prod(shape)), 1) * dtype.itemsize)
        self._buffers.append(buffer)
        return buffer.array(shape, dtype)

    @property
    def input(self) -> DeviceArray:
        """The engine's input buffer for this shape."""
        return self._input

    def enqueue(self, stream: CudaStream) -> Sequence[DeviceArray]:
        """Queue the engine on ``stream``; the outputs stay at fixed addresses."""
        backend = self._backend
        context = backend._require_context()
        if backend._active is not self:  # another shape ran last: point the context here
            context.set_input_shape(self._addresses[0][0], self.shape)
            for name, pointer in self._addresses:
                context.set_tensor_address(name, pointer)
            backend._activate(self)
        if self.graph is not None:
            self.graph.launch(stream)
            return self._outputs
        self._execute(context, stream)
        self.runs_in_a_row += 1
        if self.runs_in_a_row >= 2 and backend.graphs_wanted:
            self.graph = backend._capture(self, lambda: self._execute(context, stream), stream)
        return self._outputs

    def _execute(self, context: tensorrt.IExecutionContext, stream: CudaStream) -> None:
        if not context.execute_async_v3(stream.ptr):
            raise InferenceError(
                "TensorRT execute_async_v3 failed (see the TensorRT log above); the engine or the "
                "GPU is in a bad state: reconfigure the node"
            )

    def forget_graph(self) -> None:
        """Drop the captured execute (the context's state is about to change)."""
        if self.graph is not None:
            self.graph.close()
            self.graph = None
        self.runs_in_a_row = 0

    def close(self) -> None:
        """Free the buffers (after the work queued on them: DeviceBuffer waits)."""
        self.forget_graph()
        while self._buffers:
            self._buffers.pop().close()


class TensorRTBackend(DeviceBackend):
    """A deserialized TensorRT engine with its execution context and per-shape buffers."""

    name = "tensorrt"

    def __init__(
        self,
        trt: Any,
        engine: tensorrt.ICudaEngine,
        device: CudaDevice,
        device_name: str,
        metadata: ModelMetadata,
        *,
        cuda_graph: bool = True,
    ) -> None:
        self._trt = trt
        self._engine: tensorrt.ICudaEngine | None = engine
        self._device: CudaDevice | None = device
        self._device_name = device_name
        self._metadata = metadata
        context = engine.create_execution_context()
        if context is None:
            raise ModelLoadError(
                "TensorRT could not create an execution context (out of GPU memory?)"
            )
        self._context: tensorrt.IExecutionContext | None = context
        self._bindings: dict[tuple[int, ...], _TensorRTBinding] = {}
        self._active: _TensorRTBinding | None = None
        self.graphs_wanted = cuda_graph and not device_name.startswith("dla")
        self._capture_failures = 0
        self._graph_note = "CUDA graph" if self.graphs_wanted else "no CUDA graph"
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            shape = _dims(engine.get_tensor_shape(name))
            spec = TensorSpec(name, tuple(d if d >= 0 else None for d in shape), dtype)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self._inputs if is_input else self._outputs).append(spec)
        if len(self._inputs) != 1:
            raise UnsupportedModelError(
                f"a YOLO engine has one input (the image), this one has {len(self._inputs)}: "
                f"{', '.join(spec.name for spec in self._inputs)}"
            )

    @classmethod
    def load(cls, model_path: Path, *, device: str = "auto", **options: Any) -> TensorRTBackend:
        """Deserialize ``model_path`` (plain plan or Ultralytics .engine) on ``device``.

        Option ``cuda_graph`` (default True): replay each input shape's execute as a CUDA graph.
        """
        cuda_graph = bool(options.pop("cuda_graph", True))
        if options:
            raise TypeError(f"unknown tensorrt backend options: {', '.join(options)}")
        kind, index = parse_device(device)
        trt = import_tensorrt()
        cuda_device = CudaDevice(0 if kind == "dla" else index)  # its context is now current
        try:
            header, plan = split_ultralytics_engine(model_path.read_bytes())
            runtime: tensorrt.Runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
            if kind == "dla":
                runtime.DLA_core = index
            engine: tensorrt.ICudaEngine | None = runtime.deserialize_cuda_engine(plan)
            if engine is None:
                raise ModelLoadError(
                    f"TensorRT {trt.__version__} cannot load {model_path}: it was built for another "
                    "TensorRT version or GPU, or is damaged; rebuild it (export with force)"
                )
            metadata = parse_ultralytics_metadata(header or _sidecar_metadata(model_path))
            return cls(trt, engine, cuda_device, f"{kind}:{index}", metadata, cuda_graph=cuda_graph)
        except Exception:
            cuda_device.close()
            raise

    # -- Backend ------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """cuda:N or dla:N."""
        return self._device_name

    @property
    def version(self) -> str:
        """e.g. "tensorrt 8.6.1 (CUDA graph)"; says so when a capture was refused."""
        return f"tensorrt {self._trt.__version__} ({self._graph_note})"

    @property
    def metadata(self) -> ModelMetadata:
        """From the Ultralytics header or our cache sidecar."""
        return self._metadata

    # -- DeviceBackend ------------------------------------------------------------------------

    @property
    def cuda_device(self) -> CudaDevice:
        """The GPU whose memory holds the engine's I/O."""
        if self._device is None:
            raise RuntimeError("the tensorrt backend is closed")
        return self._device

    def binding(self, input_shape: tuple[int, ...]) -> DeviceBinding:
        """Return the buffers for an input shape, allocating them on first use."""
        binding = self._bindings.get(input_shape)
        if binding is None:
            self.cuda_device.make_current()
            if len(self._bindings) >= _MAX_SHAPES:
                self._bindings.pop(next(iter(self._bindings))).close()
            self._activate(None)  # set_input_shape below moves the context off the active binding
            binding = _TensorRTBinding(self, input_shape)
            self._bindings[input_shape] = binding
        return binding

    def _activate(self, binding: _TensorRTBinding | None) -> None:
        """Note which binding the context is set up for (None: none); forget every captured graph."""
        for each in self._bindings.values():
            each.forget_graph()
        self._active = binding

    def _capture(
        self, binding: _TensorRTBinding, execute: Callable[[], None], stream: CudaStream
    ) -> CudaGraph | None:
        """Capture ``execute`` as a graph, or turn graphs off for this engine (saying why)."""
        try:
            return CudaGraph(stream, execute)
        except Exception as error:  # noqa: BLE001 - any refusal only means no graph; the frame ran
            self._capture_failures += 1
            binding.runs_in_a_row = 0  # two more plain runs, then another try
            if self._capture_failures >= _CAPTURE_TRIES:
                self.graphs_wanted = False
                self._graph_note = (
                    f"no CUDA graph: capturing input {binding.shape} failed "
                    f"{self._capture_failures} times, last: {error}"
                )
            return None

    def _require_context(self) -> tensorrt.IExecutionContext:
        if self._context is None:
            raise RuntimeError("the tensorrt backend is closed")
        return self._context

    def _close_device(self) -> None:
        """Free the bindings' buffers, then the context and the engine."""
        if self._device is None:
            return
        self._device.make_current()
        for binding in self._bindings.values():
            binding.close()
        self._bindings.clear()
        self._active = None
        self._context = None
        self._engine = None
        self._device.close()
        self._device = None
