"""What will run, decided once: backend, precision, device and pipeline, from the settings and the machine.

The node, ``detect_images`` and ``doctor`` all call ``resolve_plan``, so the three never disagree,
and what they report (EngineInfo, diagnostics, logs) is the plan that actually runs. No ROS here.

* device ``auto``: the first GPU where a CUDA driver answers, else the CPU;
* backend ``auto``: TensorRT for engines and, on a GPU, for models it can build; else the torch
  backend on a GPU with a CUDA build of torch; else ONNX Runtime;
* precision ``auto``: FP16 on TensorRT and torch (what a GPU runs fastest without calibration),
  FP32 on ONNX Runtime (the model file as it is);
* pipeline ``auto``: ``gpu`` (upload, letterbox, inference, decoding and NMS on the GPU; only the
  boxes come back) with a device backend where NVRTC can compile the kernels, else ``host``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from yolo_trt_ros.errors import BackendNotAvailableError, InvalidSettingError
from yolo_trt_ros.settings.values import DEVICE_FORMS, PRECISIONS, Device, check_precision_on

if TYPE_CHECKING:
    from yolo_trt_ros.detector import Detector
    from yolo_trt_ros.engine.manager import EngineManager, PreparedModel

__all__ = [
    "BACKEND_CHOICES",
    "NVRTC_MISSING",
    "PIPELINE_CHOICES",
    "PRECISION_CHOICES",
    "Machine",
    "RuntimePlan",
    "open_detector",
    "prepare_model",
    "resolve_plan",
]

BACKEND_CHOICES: Final = ("auto", "tensorrt", "torch", "onnxruntime")
PRECISION_CHOICES: Final = PRECISIONS
PIPELINE_CHOICES: Final = ("auto", "gpu", "host")
_DEVICE_BACKENDS: Final = ("tensorrt", "torch")  # the backends that run on device buffers
_ENGINE_SUFFIXES: Final = (".engine", ".plan")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is broken or half-installed
        return False


def _cuda_device_count() -> int:
    """GPUs the CUDA driver reports; 0 without cuda-python or a driver."""
    if not _installed("cuda.bindings"):
        return 0
    try:
        driver = importlib.import_module("cuda.bindings.driver")
        if driver.cuInit(0)[0] != driver.CUresult.CUDA_SUCCESS:
            return 0
        status, count = driver.cuDeviceGetCount()
        return int(count) if status == driver.CUresult.CUDA_SUCCESS else 0
    except Exception:  # noqa: BLE001 - no libcuda, or a driver that refuses: no GPU
        return 0


def _torch_has_cuda() -> bool:
    if not _installed("torch"):
        return False
    try:
        return bool(importlib.import_module("torch").cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken torch install is no GPU backend
        return False


NVRTC_MISSING: Final = (
    "NVRTC, the CUDA runtime compiler the GPU kernels need, did not load: pip install "
    "'cuda-bindings[all]' (its NVRTC wheel), or put the folder of the CUDA toolkit's libnvrtc.so "
    "on LD_LIBRARY_PATH"
)


def _nvrtc_works() -> bool:
    try:
        nvrtc = importlib.import_module("cuda.bindings.nvrtc")
        return bool(nvrtc.nvrtcVersion()[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS)
    except Exception:  # noqa: BLE001 - no NVRTC library: the GPU kernels cannot be compiled
        return False


@dataclass(frozen=True)
class Machine:
    """What this machine offers the detector (``Machine.detect()`` reads it; tests build one)."""

    cuda_devices: int = 0
    tensorrt: bool = False
    torch_cuda: bool | None = False  # None: torch is installed, not yet asked (see has_torch_cuda)
    onnx2torch: bool = False
    nvrtc: bool = False

    @classmethod
    def detect(cls) -> Machine:
        """Read this machine: GPUs, TensorRT, a CUDA torch, onnx2torch, NVRTC."""
        count = _cuda_device_count()
        return cls(
            cuda_devices=count,
            tensorrt=_installed("tensorrt"),
            torch_cuda=None if count > 0 and _installed("torch") else False,
            onnx2torch=_installed("onnx2torch") and _installed("onnx"),
            nvrtc=count > 0 and _nvrtc_works(),
        )

    def has_torch_cuda(self) -> bool:
        """Whether a CUDA build of torch sees a GPU; torch is imported (slow, large) only when asked.

        A plan that takes TensorRT never asks, so a Jetson with torch installed does not load it.
        """
        return _torch_has_cuda() if self.torch_cuda is None else self.torch_cuda


@dataclass(frozen=True)
class RuntimePlan:
    """The resolved choice, and why each part of it was made."""

    backend: str  # tensorrt | torch | onnxruntime
    precision: str  # fp32 | fp16 | int8
    device: str  # cpu | cuda:N | dla:N
    pipeline: str  # gpu | host
    reasons: tuple[str, ...] = field(default=(), compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)  # what the user should fix

    def describe(self) -> str:
        """One line for logs and diagnostics, e.g. "tensorrt fp16 on cuda:0, GPU pipeline"."""
        where = "GPU pipeline" if self.pipeline == "gpu" else "host pipeline"
        return f"{self.backend} {self.precision} on {self.device}, {where}"

    def backend_options(self, *, cuda_graph: bool = True) -> dict[str, Any]:
        """Options the backend's ``load`` takes from the plan (torch runs the plan's precision).

        ``cuda_graph`` goes to the backends that replay CUDA graphs (tensorrt, torch).
        """
        options: dict[str, Any] = {"precision": self.precision} if self.backend == "torch" else {}
        if self.backend in ("tensorrt", "torch"):
            options["cuda_graph"] = cuda_graph
        return options


def _resolve_device(device: str, machine: Machine) -> tuple[str, str]:
    parsed = Device.parse(device)
    if parsed is None:
        raise InvalidSettingError(f"device {device!r} is not {DEVICE_FORMS}", "device")
    kind, number = parsed.kind, parsed.index or 0
    if kind == "auto":
        if machine.cuda_devices:
            return "cuda:0", "device auto: a CUDA GPU answers"
        return "cpu", "device auto: no CUDA GPU here"
    if kind == "cpu":
        return "cpu", "device cpu as set"
    if kind == "cuda" and number >= machine.cuda_devices:
        raise BackendNotAvailableError(
            f"device {device} does not exist: this machine has {machine.cuda_devices} CUDA GPU(s)"
            + (f" (cuda:0..cuda:{machine.cuda_devices - 1})" if machine.cuda_devices else "")
            + "; use device auto or cpu"
        )
    if kind == "dla" and not machine.tensorrt:
        raise BackendNotAvailableError(
            f"device {device} (a Jetson DLA core) runs only with TensorRT, which is not installed here"
        )
    return f"{kind}:{number}", f"device {device} as set"


def _check_named_backend(backend: str, on_gpu: bool, machine: Machine) -> None:
    if backend == "tensorrt" and not machine.tensorrt:
        raise BackendNotAvailableError(
            "backend tensorrt: TensorRT is not installed here (it comes with JetPack, or from "
            "NVIDIA for x86 GPUs); use backend auto to run on what is installed"
        )
    if backend in _DEVICE_BACKENDS and not on_gpu:
        raise InvalidSettingError(
            f"backend {backend} runs on a GPU, not on device cpu: use backend onnxruntime"
        )
    if backend == "torch" and not machine.has_torch_cuda():
        raise BackendNotAvailableError(
            "backend torch needs a CUDA build of torch that sees a GPU: use backend auto"
        )


def _check_engine_backend(backend: str, suffix: str, on_gpu: bool, machine: Machine) -> None:
    if backend not in ("auto", "tensorrt"):
        raise InvalidSettingError(f"a {suffix} file is a TensorRT engine: use backend tensorrt")
    if not machine.tensorrt:
        raise BackendNotAvailableError(
            "the model is a TensorRT engine, but TensorRT is not installed here: give the .onnx "
            "model instead (it runs on ONNX Runtime), or install TensorRT"
        )
    if not on_gpu:
        raise InvalidSettingError("a TensorRT engine runs on a GPU or DLA, not on device cpu")


def _resolve_backend(backend: str, suffix: str, device: str, machine: Machine) -> tuple[str, str]:
    on_gpu = device != "cpu"
    if backend not in BACKEND_CHOICES:
        raise InvalidSettingError(f"backend {backend!r} is not one of {', '.join(BACKEND_CHOICES)}")
    if suffix in _ENGINE_SUFFIXES:
        _check_engine_backend(backend, suffix, on_gpu, machine)
        return "tensorrt", "the model is a TensorRT engine"
    if backend != "auto":
        _check_named_backend(backend, on_gpu, machine)
        return backend, f"backend {backend} as set"
    if suffix == ".torchscript":
        return "torch", "a TorchScript model runs on the torch backend"
    if on_gpu and machine.tensorrt:
        return "tensorrt", "backend auto: TensorRT is installed and a GPU answers"
    if device.startswith("dla:"):
        raise BackendNotAvailableError("a DLA device needs TensorRT, which is not installed here")
    if on_gpu and (suffix != ".onnx" or machine.onnx2torch) and machine.has_torch_cuda():
        return "torch", "backend auto: no TensorRT, a CUDA build of torch is installed"
    why = "device cpu" if machine.tensorrt else "TensorRT is not available here"
    return "onnxruntime", f"backend auto: {why}, ONNX Runtime runs the model"


def _resolve_precision(precision: str, backend: str, device: str) -> tuple[str, str]:
    if precision not in PRECISION_CHOICES:
        raise InvalidSettingError(
            f"precision {precision!r} is not one of {', '.join(PRECISION_CHOICES)}"
        )
    if precision == "auto":
        chosen = "fp16" if backend in _DEVICE_BACKENDS else "fp32"
        return chosen, f"precision auto: {chosen} on {backend}"
    if backend == "torch" and precision == "int8":
        raise InvalidSettingError("the torch backend runs fp16 or fp32, not int8: use tensorrt")
    check_precision_on(Device.parse(device), precision)
    return precision, f"precision {precision} as set"


def resolve_plan(
    model: Path,
    backend: str = "auto",
    precision: str = "auto",
    device: str = "auto",
    pipeline: str = "auto",
    *,
    machine: Machine | None = None,
) -> RuntimePlan:
    """Resolve the settings against the machine; raise one of our errors naming what to change."""
    facts = machine or Machine.detect()
    chosen_device, device_why = _resolve_device(device, facts)
    chosen_backend, backend_why = _resolve_backend(
        backend, model.suffix.lower(), chosen_device, facts
    )
    if chosen_backend == "onnxruntime" and device == "auto" and chosen_device != "cpu":
        chosen_device, device_why = "cpu", "device auto: ONNX Runtime runs on the CPU here"
    chosen_precision, precision_why = _resolve_precision(precision, chosen_backend, chosen_device)
    if pipeline not in PIPELINE_CHOICES:
        raise InvalidSettingError(
            f"pipeline {pipeline!r} is not one of {', '.join(PIPELINE_CHOICES)}"
        )
    gpu_ready = chosen_backend in _DEVICE_BACKENDS and facts.nvrtc
    if pipeline == "gpu" and not gpu_ready:
        raise BackendNotAvailableError(
            "pipeline gpu needs a device backend (tensorrt or torch) and NVRTC (cuda-python with "
            f"the CUDA runtime compiler); this plan runs {chosen_backend}"
            + (
                ""
                if facts.nvrtc or chosen_backend not in _DEVICE_BACKENDS
                else " and NVRTC is missing"
            )
            + ": use pipeline auto or host"
        )
    chosen_pipeline = "gpu" if pipeline in ("auto", "gpu") and gpu_ready else "host"
    pipeline_why = f"pipeline {pipeline}: {chosen_pipeline}"
    warnings: tuple[str, ...] = ()
    if pipeline == "auto" and not gpu_ready:
        if chosen_backend in _DEVICE_BACKENDS:  # a device backend on the host: NVRTC is missing
            pipeline_why += f" ({NVRTC_MISSING})"
            warnings = (f"{chosen_backend} runs the host pipeline: {NVRTC_MISSING}",)
        else:
            pipeline_why += f" ({chosen_backend} runs on host arrays)"
    return RuntimePlan(
        chosen_backend,
        chosen_precision,
        chosen_device,
        chosen_pipeline,
        (device_why, backend_why, precision_why, pipeline_why),
        warnings,
    )


def open_detector(
    plan: RuntimePlan, model: Path, *, cuda_graph: bool = True, **settings: Any
) -> Detector:
    """Load the model as the plan says: the GPU pipeline (``GpuDetector``) or the host ``Detector``.

    ``cuda_graph``: let the tensorrt and torch backends replay the model as a CUDA graph.
    """
    from yolo_trt_ros.detector import Detector  # noqa: PLC0415 - keeps plan resolution light

    detector_class: type[Detector] = Detector
    if plan.pipeline == "gpu":
        from yolo_trt_ros.gpu.pipeline import GpuDetector  # noqa: PLC0415 - needs cuda-python

        detector_class = GpuDetector
    options = plan.backend_options(cuda_graph=cuda_graph)
    return detector_class.from_model(
        model, backend=plan.backend, device=plan.device, backend_options=options, **settings
    )


def prepare_model(
    plan: RuntimePlan,
    model: Path,
    manager: EngineManager,
    *,
    image_size: tuple[int, int] | None = None,
    calibration_dir: Path | None = None,
    optimization_level: int = -1,
    quick_first: bool = False,
) -> PreparedModel:
    """Turn the model into what the plan's backend loads: an engine (built or cached), or the file."""
    from yolo_trt_ros.engine.manager import ExportRequest, PreparedModel  # noqa: PLC0415

    if plan.backend == "torch":  # runs the model file itself, at the plan's precision
        return PreparedModel(model, plan.backend, plan.precision, None)
    request = ExportRequest(
        model=model,
        precision=plan.precision,
        device=plan.device,
        image_size=image_size,
        calibration_dir=calibration_dir,
        optimization_level=optimization_level,
        backend=plan.backend,
        quick_first=quick_first,
    )
    return manager.prepare(request)
