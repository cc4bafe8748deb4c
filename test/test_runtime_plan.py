"""One decision for backend, precision, device and pipeline (yolo_trt_ros.runtime_plan).

The machines a plan is resolved for are described by ``Machine`` values: what a Jetson, a GPU
workstation without TensorRT, or this CPU machine offers. That is data, not a mock; the real
``Machine.detect()`` is checked against this machine (no GPU) at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from yolo_trt_ros.errors import BackendNotAvailableError, InvalidSettingError
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.runtime_plan import (
    NVRTC_MISSING,
    Machine,
    RuntimePlan,
    open_detector,
    resolve_plan,
)

ONNX = Path("yolo11n.onnx")
ENGINE = Path("yolo11n.engine")
CPU_ONLY = Machine()
JETSON = Machine(cuda_devices=1, tensorrt=True, nvrtc=True)
TORCH_GPU = Machine(cuda_devices=2, torch_cuda=True, onnx2torch=True, nvrtc=True)
TORCH_GPU_NO_NVRTC = Machine(cuda_devices=1, torch_cuda=True, onnx2torch=True)


def test_cpu_machine_runs_onnxruntime_fp32_on_the_host() -> None:
    plan = resolve_plan(ONNX, machine=CPU_ONLY)
    assert (plan.backend, plan.precision, plan.device, plan.pipeline) == (
        "onnxruntime",
        "fp32",
        "cpu",
        "host",
    )
    assert plan.describe() == "onnxruntime fp32 on cpu, host pipeline"
    assert len(plan.reasons) == 4


def test_gpu_with_tensorrt_runs_tensorrt_fp16_in_the_gpu_pipeline() -> None:
    plan = resolve_plan(ONNX, machine=JETSON)
    assert (plan.backend, plan.precision, plan.device, plan.pipeline) == (
        "tensorrt",
        "fp16",
        "cuda:0",
        "gpu",
    )
    assert resolve_plan(ENGINE, machine=JETSON).backend == "tensorrt"
    assert resolve_plan(ONNX, device="dla:1", precision="int8", machine=JETSON).device == "dla:1"


def test_gpu_without_tensorrt_runs_torch_at_the_precision_it_reports() -> None:
    plan = resolve_plan(ONNX, machine=TORCH_GPU)
    assert (plan.backend, plan.precision, plan.pipeline) == ("torch", "fp16", "gpu")
    assert plan.backend_options()["precision"] == "fp16"  # what torch is told is what is reported
    fp32 = resolve_plan(ONNX, precision="fp32", device="cuda:1", machine=TORCH_GPU)
    assert fp32.backend_options()["precision"] == "fp32" and fp32.device == "cuda:1"
    assert resolve_plan(ONNX, machine=TORCH_GPU_NO_NVRTC).pipeline == "host"


def test_a_device_backend_without_nvrtc_says_the_host_pipeline_is_for_want_of_nvrtc() -> None:
    tensorrt_no_nvrtc = Machine(cuda_devices=1, tensorrt=True)
    plan = resolve_plan(ONNX, machine=tensorrt_no_nvrtc)
    assert (plan.backend, plan.device, plan.pipeline) == ("tensorrt", "cuda:0", "host")
    assert plan.reasons[-1] == f"pipeline auto: host ({NVRTC_MISSING})"
    on_cpu = resolve_plan(ONNX, machine=CPU_ONLY)  # no device backend: NVRTC is not the reason
    assert on_cpu.reasons[-1] == "pipeline auto: host (onnxruntime runs on host arrays)"


def test_host_pipeline_can_be_forced_on_a_gpu() -> None:
    assert resolve_plan(ONNX, pipeline="host", machine=JETSON).pipeline == "host"


@pytest.mark.parametrize(
    ("settings", "machine", "error", "match"),
    [
        ({"backend": "tensorrt"}, CPU_ONLY, BackendNotAvailableError, "not installed"),
        ({"pipeline": "gpu"}, CPU_ONLY, BackendNotAvailableError, "pipeline gpu"),
        ({"pipeline": "gpu"}, TORCH_GPU_NO_NVRTC, BackendNotAvailableError, "NVRTC"),
        ({"device": "cuda:2"}, TORCH_GPU, BackendNotAvailableError, "cuda:0..cuda:1"),
        ({"device": "dla:0"}, TORCH_GPU, BackendNotAvailableError, "TensorRT"),
        ({"device": "tpu"}, JETSON, InvalidSettingError, "not auto, cpu"),
        ({"backend": "torch", "device": "cpu"}, TORCH_GPU, InvalidSettingError, "onnxruntime"),
        ({"precision": "int8", "backend": "torch"}, TORCH_GPU, InvalidSettingError, "int8"),
        ({"precision": "fp32", "device": "dla:0"}, JETSON, InvalidSettingError, "DLA"),
        ({"precision": "bf16"}, JETSON, InvalidSettingError, "precision"),
        ({"pipeline": "cuda"}, JETSON, InvalidSettingError, "pipeline"),
        ({"backend": "openvino"}, JETSON, InvalidSettingError, "backend"),
    ],
)
def test_impossible_settings_say_what_to_change(
    settings: dict[str, str], machine: Machine, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        resolve_plan(ONNX, machine=machine, **settings)


def test_an_engine_needs_tensorrt_and_a_gpu() -> None:
    with pytest.raises(BackendNotAvailableError, match=r"give the \.onnx"):
        resolve_plan(ENGINE, machine=CPU_ONLY)
    with pytest.raises(InvalidSettingError, match="not on device cpu"):
        resolve_plan(ENGINE, device="cpu", machine=JETSON)
    with pytest.raises(InvalidSettingError, match="use backend tensorrt"):
        resolve_plan(ENGINE, backend="onnxruntime", machine=JETSON)


def test_this_machine_is_detected_and_its_plan_runs() -> None:
    machine = Machine.detect()
    assert machine.nvrtc <= (machine.cuda_devices > 0)  # no GPU, no GPU kernels
    plan = resolve_plan(bundled_model_path())
    assert plan == resolve_plan(bundled_model_path(), machine=machine)
    with open_detector(plan, bundled_model_path(), conf=0.5) as detector:
        assert detector.backend.name == plan.backend and detector.backend.device == plan.device
        assert detector.settings.conf == 0.5


def test_torch_is_asked_only_where_the_plan_could_take_it() -> None:
    # torch_cuda None: torch installed but not imported yet; a TensorRT plan must not import it
    unasked = Machine(cuda_devices=1, tensorrt=True, torch_cuda=None, onnx2torch=True, nvrtc=True)
    assert resolve_plan(ONNX, machine=unasked).backend == "tensorrt"
    assert resolve_plan(ONNX, device="cpu", machine=unasked).backend == "onnxruntime"
    assert Machine(torch_cuda=True).has_torch_cuda() and not Machine().has_torch_cuda()


def test_backend_options_carry_the_precision_to_torch_and_cuda_graph_to_device_backends() -> None:
    torch_plan = RuntimePlan("torch", "fp16", "cuda:0", "gpu")
    tensorrt_plan = RuntimePlan("tensorrt", "int8", "cuda:0", "gpu")
    onnx_plan = RuntimePlan("onnxruntime", "fp32", "cpu", "host")
    assert torch_plan.backend_options() == {"precision": "fp16", "cuda_graph": True}
    assert tensorrt_plan.backend_options(cuda_graph=False) == {"cuda_graph": False}
    assert onnx_plan.backend_options(cuda_graph=False) == {}  # ONNX Runtime takes no such option
