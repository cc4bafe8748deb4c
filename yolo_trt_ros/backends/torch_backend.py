"""PyTorch backend for NVIDIA GPUs without TensorRT: FP16, CUDA graphs, fed from device buffers.

An optional extra (``pip install torch onnx2torch``, torch built with CUDA); nothing imports this
module unless the torch backend is chosen. It loads

* ``.onnx`` models through onnx2torch, once per input shape: the shape is fixed and the shape
  arithmetic folded first (``onnx_static``), and the few shape constants the converted operators
  read on the host (reshape targets, split sizes, slice bounds) stay in host memory, so the forward
  pass never waits for the GPU and can be captured as a CUDA graph;
* ``.torchscript`` files (Ultralytics ``format=torchscript``; metadata from their ``config.txt``).

For each input shape the backend allocates the input buffer itself (``DeviceBuffer``; PyTorch sees
it through ``__cuda_array_interface__``, no copy), warms the model up and captures its forward pass
in a CUDA graph whose outputs stay at fixed addresses. The shape's binding launches that graph on the
caller's stream (``cuGraphLaunch``; no PyTorch stream switching), so the GPU pipeline's kernels, the
model and the decoding run back to back in one stream with no host synchronisation. Options:
``precision`` "fp16" (default) or "fp32", ``cuda_graph`` (default True; False runs eagerly).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from cuda.bindings import driver as cu

from yolo_trt_ros.backends.base import TensorSpec
from yolo_trt_ros.backends.device import DeviceBackend, DeviceBinding
from yolo_trt_ros.core.metadata import ModelMetadata, parse_ultralytics_metadata
from yolo_trt_ros.cuda.runtime import CudaDevice, CudaStream, DeviceArray, DeviceBuffer, check
from yolo_trt_ros.errors import (
    BackendNotAvailableError,
    CudaError,
    ModelLoadError,
    UnsupportedModelError,
)

__all__ = ["PRECISIONS", "TorchBackend", "keep_shape_constants_on_host", "usable_for"]

PRECISIONS: Final[dict[str, torch.dtype]] = {"fp16": torch.float16, "fp32": torch.float32}
_NUMPY_DTYPES: Final[dict[torch.dtype, np.dtype[Any]]] = {
    torch.float16: np.dtype(np.float16),
    torch.float32: np.dtype(np.float32),
    torch.int64: np.dtype(np.int64),
    torch.int32: np.dtype(np.int32),
}
# onnx2torch operators that read these inputs (after the first) on the host: shapes, sizes, bounds.
_HOST_ARGUMENT_OPERATORS: Final = (
    "OnnxReshape",
    "OnnxSplit",
    "OnnxSlice",
    "OnnxResize",
    "OnnxExpand",
    "OnnxTile",
    "OnnxRange",
    "OnnxConstantOfShape",
    "OnnxPad",
    "OnnxTopK",
    "OnnxSqueeze",
    "OnnxUnsqueeze",
)
_MAX_SHAPES: Final = 8  # input shapes kept prepared at once (each holds a graph and its buffers)


def usable_for(model_path: Path) -> bool:
    """Whether backend "auto" should take torch here: a CUDA device, and onnx2torch for .onnx."""
    if not torch.cuda.is_available():
        return False
    return model_path.suffix.lower() != ".onnx" or all(
        importlib.util.find_spec(name) is not None for name in ("onnx", "onnx2torch")
    )


def keep_shape_constants_on_host(module: torch.fx.GraphModule) -> int:
    """Move the constants that converted shape operators read on the host back to host memory.

    Returns how many were moved. Run after moving the module to the GPU: a reshape target on the
    GPU makes every forward pass copy it back and wait, which a CUDA graph cannot capture.
    """
    moved = 0
    for node in module.graph.nodes:
        if node.op != "call_module":
            continue
        if not type(module.get_submodule(node.target)).__name__.startswith(
            _HOST_ARGUMENT_OPERATORS
        ):
            continue
        for argument in (*node.args[1:], *node.kwargs.values()):
            if isinstance(argument, torch.fx.Node) and argument.op == "get_attr":
                owner_name, _, buffer_name = str(argument.target).rpartition(".")
                owner = module.get_submodule(owner_name)
                buffer = owner._buffers.get(buffer_name)
                if buffer is not None and buffer.device.type != "cpu":
                    owner._buffers[buffer_name] = buffer.cpu()
                    moved += 1
    return moved


def _device_index(device: str) -> int:
    kind, _, index = device.partition(":")
    if kind not in ("auto", "cuda") or (index and not index.isdigit()):
        raise BackendNotAvailableError(
            f"the torch backend runs on CUDA GPUs (device auto, cuda or cuda:N), not {device!r}; "
            "use the onnxruntime backend on the CPU"
        )
    if not torch.cuda.is_available():
        raise BackendNotAvailableError(
            f"torch {torch.__version__} sees no CUDA device here (a CPU-only build, or no NVIDIA "
            "driver): use the onnxruntime backend"
        )
    number = int(index or 0)
    if number >= torch.cuda.device_count():
        raise BackendNotAvailableError(
            f"device {device} does not exist: torch sees {torch.cuda.device_count()} CUDA device(s)"
        )
    return number


def _dims(value: Any) -> tuple[int | str | None, ...]:
    return tuple(
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
        for d in value.type.tensor_type.shape.dim
    )


class _OnnxSource:
    """An ONNX model, converted with onnx2torch once per (folded, fixed) input shape."""

    def __init__(self, path: Path) -> None:
        try:
            import onnx  # noqa: PLC0415 - optional: only ONNX models need it
            import onnx2torch  # noqa: PLC0415, F401 - checked here for a clear error
        except ImportError as error:
            raise BackendNotAvailableError(
                f"the torch backend converts .onnx models with onnx2torch ({error}): "
                "pip install onnx onnx2torch, or load a .torchscript export"
            ) from None
        from yolo_trt_ros.backends.onnx_static import image_input  # noqa: PLC0415

        try:
            self.model = onnx.load(str(path))
        except Exception as error:
            raise ModelLoadError(
                f"cannot read ONNX model {path}: {error} (is it a complete .onnx file?)"
            ) from error
        self.metadata = parse_ultralytics_metadata(
            {prop.key: prop.value for prop in self.model.metadata_props}
        )
        self.input_name = image_input(self.model).name
        self.input_shape = _dims(image_input(self.model))
        self.outputs = [(value.name, _dims(value)) for value in self.model.graph.output]

    def module_for(self, input_shape: tuple[int, ...]) -> torch.nn.Module:
        import onnx2torch  # noqa: PLC0415

        from yolo_trt_ros.backends.onnx_static import static_shape_model  # noqa: PLC0415

        try:
            converted: torch.nn.Module = onnx2torch.convert(
                static_shape_model(self.model, input_shape)
            )
        except (NotImplementedError, KeyError, RuntimeError) as error:
            raise UnsupportedModelError(
                f"onnx2torch cannot convert this model at input {input_shape}: {error}"
            ) from error
        return converted


class _TorchScriptSource:
    """A TorchScript export; Ultralytics stores its metadata as JSON in the extra file config.txt."""

    def __init__(self, path: Path, device: torch.device) -> None:
        extra = {"config.txt": ""}
        try:
            # Straight to the GPU: constants baked into a trace (anchors, ...) move only this way.
            self.module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except Exception as error:
            raise ModelLoadError(
                f"cannot load TorchScript model {path}: {str(error).splitlines()[0]}"
            ) from error
        try:
            raw = json.loads(extra["config.txt"]) if extra["config.txt"] else {}
        except json.JSONDecodeError:
            raw = {}
        self.metadata = parse_ultralytics_metadata(raw if isinstance(raw, dict) else {})
        self.input_name = "images"
        fixed = self.metadata.dynamic is False and self.metadata.imgsz is not None
        hw: tuple[int | str | None, ...] = self.metadata.imgsz if fixed else (None, None)  # type: ignore[assignment]
        self.input_shape = (self.metadata.batch or 1, 3, *hw)
        classes = self.metadata.num_classes
        self.outputs = [("output0", (self.input_shape[0], 4 + classes if classes else None, None))]

    def module_for(self, input_shape: tuple[int, ...]) -> torch.nn.Module:
        del input_shape  # one scripted module serves every shape it supports
        module: torch.nn.Module = self.module
        return module


@dataclass
class _Binding(DeviceBinding):
    """Everything prepared for one input shape."""

    shape: tuple[int, ...]
    module: torch.nn.Module
    input_buffer: DeviceBuffer
    input_array: DeviceArray
    input_tensor: torch.Tensor
    torch_device: torch.device
    graph: Any = None
    graph_exec: Any = None
    outputs: list[torch.Tensor] = field(default_factory=list)
    output_arrays: list[DeviceArray] = field(default_factory=list)
    _external_streams: dict[int, torch.cuda.ExternalStream] = field(default_factory=dict)

    @property
    def input(self) -> DeviceArray:
        """The input buffer, which the module reads in place."""
        return self.input_array

    def enqueue(self, stream: CudaStream) -> Sequence[DeviceArray]:
        """Queue the forward pass on ``stream``; with a graph the outputs' addresses never change."""
        if self.input_buffer.closed:
            raise RuntimeError("this torch binding's backend is closed")
        if self.graph_exec is not None:
            check(self.graph_exec(stream.handle))
            return self.output_arrays
        external = self._external_streams.get(stream.ptr)
        if external is None:
            external = torch.cuda.ExternalStream(stream.ptr, device=self.torch_device)
            self._external_streams[stream.ptr] = external
        with torch.cuda.stream(external):
            outputs = self.forward()
        if self.graph is not None:
            return self.output_arrays
        return [_device_array(output) for output in outputs]

    def forward(self) -> list[torch.Tensor]:
        """Run the model on PyTorch's current stream (graph replay or eager)."""
        if self.graph is not None:
            self.graph.replay()
            return self.outputs
        with torch.inference_mode():
            return _as_list(self.module(self.input_tensor))


def _as_list(result: Any) -> list[torch.Tensor]:
    """Flatten a model's output (a tensor, or nested tuples/lists of them) into contiguous tensors."""
    if isinstance(result, torch.Tensor):
        return [result.contiguous()]
    return [tensor for item in result for tensor in _as_list(item)]


def _device_array(tensor: torch.Tensor) -> DeviceArray:
    return DeviceArray(
        int(tensor.data_ptr()), tuple(tensor.shape), _NUMPY_DTYPES[tensor.dtype], tensor
    )


class TorchBackend(DeviceBackend):
    """A YOLO model as a PyTorch module on one GPU, one CUDA graph per input shape."""

    name = "torch"

    def __init__(
        self,
        path: Path,
        source: _OnnxSource | _TorchScriptSource,
        device_index: int,
        precision: str,
        cuda_graph: bool,
    ) -> None:
        self._path = path
        self._source = source
        self._precision = precision
        self._dtype = PRECISIONS[precision]
        self._cuda_graph = cuda_graph
        self._torch_device = torch.device("cuda", device_index)
        self._device: CudaDevice | None = CudaDevice(device_index)
        self._bindings: dict[tuple[int, ...], _Binding] = {}
        dtype = _NUMPY_DTYPES[self._dtype]
        self._inputs = [TensorSpec(source.input_name, source.input_shape, dtype)]
        self._outputs = [TensorSpec(name, shape, dtype) for name, shape in source.outputs]

    @classmethod
    def load(
        cls,
        model_path: Path,
        *,
        device: str = "auto",
        precision: str = "fp16",
        cuda_graph: bool = True,
        **options: Any,
    ) -> TorchBackend:
        """Load a .onnx or .torchscript model for one GPU (``precision`` fp16 or fp32)."""
        if options:
            raise TypeError(f"unknown torch backend options: {', '.join(options)}")
        if precision not in PRECISIONS:
            raise BackendNotAvailableError(
                f"the torch backend runs fp16 or fp32, not {precision!r}"
            )
        index = _device_index(device)
        suffix = model_path.suffix.lower()
        source: _OnnxSource | _TorchScriptSource
        if suffix == ".onnx":
            source = _OnnxSource(model_path)
        elif suffix == ".torchscript":
            source = _TorchScriptSource(model_path, torch.device("cuda", index))
        else:
            raise BackendNotAvailableError(
                f"the torch backend loads .onnx and .torchscript files, not {model_path.name}"
            )
        return cls(model_path, source, index, precision, cuda_graph)

    # -- Backend ------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """cuda:N."""
        return f"cuda:{self._torch_device.index}"

    @property
    def version(self) -> str:
        """e.g. "torch 2.11.0+cu130 (CUDA graph, fp16)"."""
        mode = "CUDA graph" if self._cuda_graph else "eager"
        if self._cuda_graph and any(b.graph_exec is None for b in self._bindings.values()):
            mode += ", replayed by torch"  # this torch has no raw_cuda_graph_exec()
        return f"torch {torch.__version__} ({mode}, {self._precision})"

    @property
    def metadata(self) -> ModelMetadata:
        """Ultralytics metadata from the model file."""
        return self._source.metadata

    def _close_device(self) -> None:
        """Drop the graphs and modules and free the input buffers; safe to call twice."""
        if self._device is None:
            return
        torch.cuda.synchronize(self._torch_device)
        for binding in self._bindings.values():
            binding.input_buffer.close()
        self._bindings.clear()
        self._device.close()
        self._device = None

    # -- DeviceBackend ------------------------------------------------------------------------

    @property
    def cuda_device(self) -> CudaDevice:
        """The GPU the model runs on."""
        if self._device is None:
            raise RuntimeError(f"the torch backend for {self._path.name} is closed")
        return self._device

    def binding(self, input_shape: tuple[int, ...]) -> DeviceBinding:
        """Return the buffers and graph for an input shape, preparing them on first use."""
        if self._device is None:
            raise RuntimeError(f"the torch backend for {self._path.name} is closed")
        binding = self._bindings.get(input_shape)
        if binding is None:
            binding = self._prepare(input_shape)
        return binding

    # -- internals ----------------------------------------------------------------------------

    def _check_shape(self, input_shape: tuple[int, ...]) -> None:
        expected = self._inputs[0].shape
        if len(input_shape) != 4 or input_shape[1] != 3 or input_shape[0] != 1:
            raise UnsupportedModelError(
                f"the torch backend runs one (1, 3, H, W) image at a time, not {input_shape}"
            )
        for axis, dim in enumerate(expected):
            if isinstance(dim, int) and dim > 0 and dim != input_shape[axis]:
                raise UnsupportedModelError(
                    f"the model's input is fixed at {expected}, not {input_shape}"
                )

    def _prepare(self, input_shape: tuple[int, ...]) -> _Binding:
        """Convert (for ONNX), allocate the input, warm up and capture a graph for one shape."""
        self._check_shape(input_shape)
        device = self.cuda_device
        if len(self._bindings) >= _MAX_SHAPES:  # a camera rarely changes size; bound the cache
            torch.cuda.synchronize(self._torch_device)
            oldest = next(iter(self._bindings))
            self._bindings.pop(oldest).input_buffer.close()
        module = self._source.module_for(input_shape)
        module = module.to(device=self._torch_device, dtype=self._dtype).eval()
        if isinstance(module, torch.fx.GraphModule):
            keep_shape_constants_on_host(module)
        dtype = self._inputs[0].dtype
        buffer = DeviceBuffer(device, int(np.prod(input_shape)) * dtype.itemsize)
        array = buffer.array(input_shape, dtype)
        tensor = torch.as_tensor(array, device=self._torch_device)
        if tensor.data_ptr() != array.ptr:  # never expected: as_tensor must wrap, not copy
            raise CudaError("torch copied the input buffer instead of wrapping it")
        tensor.fill_(114 / 255)
        binding = _Binding(input_shape, module, buffer, array, tensor, self._torch_device)
        try:
            self._warm_up_and_capture(binding)
        except Exception:
            torch.cuda.synchronize(self._torch_device)  # kernels of a failed run may still read it
            buffer.close()
            raise
        self._bindings[input_shape] = binding
        return binding

    def _check_no_host_sync(self, binding: _Binding) -> None:
        """Refuse, before capturing, a forward pass that waits for the GPU (a capture would fail).

        A failed capture can leave the CUDA context unusable, so the check runs the model eagerly
        with PyTorch's sync debug mode set to raise on any synchronising operation.
        """
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            with torch.inference_mode():
                binding.module(binding.input_tensor)
        except RuntimeError as error:
            raise ModelLoadError(
                f"{self._path.name} at input {binding.shape} waits for the GPU inside its forward "
                f"pass ({str(error).splitlines()[0]}), so it cannot run as a CUDA graph: load it "
                "with backend option cuda_graph=False"
            ) from error
        finally:
            torch.cuda.set_sync_debug_mode(previous)
        torch.cuda.synchronize(self._torch_device)

    def _warm_up_and_capture(self, binding: _Binding) -> None:
        side = torch.cuda.Stream(self._torch_device)
        side.wait_stream(torch.cuda.current_stream(self._torch_device))
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(3):  # lets cuDNN pick its algorithms before capture
                outputs = _as_list(binding.module(binding.input_tensor))
        torch.cuda.current_stream(self._torch_device).wait_stream(side)
        torch.cuda.synchronize(self._torch_device)
        if not self._cuda_graph:
            binding.outputs = outputs
            return
        self._check_no_host_sync(binding)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.inference_mode(), torch.cuda.graph(graph):
                binding.outputs = _as_list(binding.module(binding.input_tensor))
        except Exception as error:
            raise ModelLoadError(
                f"cannot capture {self._path.name} at input {binding.shape} in a CUDA graph "
                f"({str(error).splitlines()[0]}): load it with backend option cuda_graph=False"
            ) from error
        binding.graph = graph
        binding.output_arrays = [_device_array(output) for output in binding.outputs]
        raw_exec = getattr(graph, "raw_cuda_graph_exec", None)
        if raw_exec is not None:
            handle = cu.CUgraphExec(int(raw_exec()))
            binding.graph_exec = lambda stream: cu.cuGraphLaunch(handle, stream)
