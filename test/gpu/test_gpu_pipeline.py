"""The torch backend and the whole GPU pipeline on a real GPU, against the CPU pipeline.

Skipped, with the reason, where there is no CUDA device, torch or onnx2torch (the CI machine).
The reference is the CPU pipeline (ONNX Runtime, FP32, OpenCV letterbox) on the same model and
images: the GPU pipeline must find the same objects (same class, IoU >= 0.97) in FP32 and FP16.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from gpu_support import (
    cuda_skip_reason,
    disagreements,
    model_path,
    torch_skip_reason,
    unmatched,
)

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.errors import BackendNotAvailableError

_reason = cuda_skip_reason() or torch_skip_reason()
# Module-level skips would hide every test in the folder when launch_testing's pytest plugin
# imports this module (see conftest.py): mark the tests instead, and import only when they run.
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")
if _reason is None:
    import torch

    from yolo_trt_ros.backends import load_backend, resolve_backend
    from yolo_trt_ros.backends.torch_backend import TorchBackend, _Binding
    from yolo_trt_ros.cuda.runtime import allocation_stats
    from yolo_trt_ros.gpu.pipeline import GpuDetector
    from yolo_trt_ros.testing.sample_images import build_sample_images

Images = dict[str, npt.NDArray[np.uint8]]


@pytest.fixture(scope="module")
def images() -> Images:
    return build_sample_images()


@pytest.fixture(scope="module")
def cpu_detector() -> Iterator[Detector]:
    with Detector.from_model(model_path(), backend="onnxruntime", device="cpu") as detector:
        yield detector


@pytest.fixture(scope="module", params=["fp16", "fp32"])
def gpu_detector(request: pytest.FixtureRequest) -> Iterator[GpuDetector]:
    with GpuDetector.from_model(
        model_path(), backend="torch", backend_options={"precision": request.param}
    ) as detector:
        yield detector


def test_auto_picks_the_torch_backend_where_cuda_exists() -> None:
    assert resolve_backend("auto", model_path()).name == "torch"


def test_backend_specs_and_zero_copy_input() -> None:
    with load_backend(model_path(), "torch") as backend:
        assert isinstance(backend, TorchBackend)
        assert backend.device == "cuda:0" and "fp16" in backend.version
        assert backend.input_specs[0].dtype == np.float16
        assert backend.metadata.names[0] == "person" and len(backend.metadata.names) == 80
        binding = backend.binding((1, 3, 384, 640))
        assert backend.binding((1, 3, 384, 640)) is binding  # prepared once per shape
        assert isinstance(binding, _Binding)
        assert (
            binding.input_tensor.data_ptr() == binding.input.ptr
        )  # torch reads our buffer in place
        assert binding.graph is not None  # captured as a CUDA graph
        with pytest.raises(Exception, match=r"\(1, 3, H, W\)"):
            backend.binding((2, 3, 384, 640))


def test_graph_matches_eager_and_onnxruntime(cpu_detector: Detector, images: Images) -> None:
    tensor, _ = cpu_detector.preprocessor(images["bus"])
    reference = np.asarray(cpu_detector.backend.infer(np.array(tensor))[0], np.float32)
    # fp32 without TF32 convolutions, so the comparison is about the conversion, not rounding.
    torch.backends.cudnn.allow_tf32 = False
    problems = []
    try:
        for cuda_graph in (True, False):
            backend = TorchBackend.load(model_path(), precision="fp32", cuda_graph=cuda_graph)
            with backend:
                got = np.asarray(backend.infer(np.array(tensor))[0], np.float32)
                again = np.asarray(backend.infer(np.array(tensor))[0], np.float32)
            error = float(np.abs(got - reference).max())
            if got.shape != reference.shape or not np.allclose(
                got, reference, rtol=1e-3, atol=2e-2
            ):
                problems.append(f"cuda_graph={cuda_graph}: max abs error {error}")
            if not np.array_equal(got, again):
                problems.append(f"cuda_graph={cuda_graph}: a second run differs")
    finally:
        torch.backends.cudnn.allow_tf32 = True
    assert not problems, problems


def test_gpu_pipeline_finds_what_the_cpu_pipeline_finds(
    gpu_detector: GpuDetector, cpu_detector: Detector, images: Images
) -> None:
    problems = disagreements(cpu_detector, gpu_detector, images, min_iou=0.97)
    assert not problems, "\n".join(problems)


def test_rgb_input_gives_the_same_detections(gpu_detector: GpuDetector, images: Images) -> None:
    bgr = images["zidane"]
    from_bgr = gpu_detector(bgr, "bgr8")
    from_rgb = gpu_detector(np.ascontiguousarray(bgr[..., ::-1]), "rgb8")
    np.testing.assert_array_equal(from_bgr.boxes, from_rgb.boxes)
    np.testing.assert_array_equal(from_bgr.class_ids, from_rgb.class_ids)


def test_steady_state_allocates_nothing(gpu_detector: GpuDetector, images: Images) -> None:
    frame = images["street_1080p"]
    gpu_detector(frame)
    gpu_detector.update_settings(conf=0.3, classes=[0, 2])
    gpu_detector(frame)
    stats = allocation_stats()
    before = (stats.device_allocations, stats.pinned_allocations, torch.cuda.memory_allocated())
    for conf in (0.25, 0.4, 0.5) * 5:
        gpu_detector.update_settings(conf=conf)
        gpu_detector(frame)
    after = (stats.device_allocations, stats.pinned_allocations, torch.cuda.memory_allocated())
    gpu_detector.update_settings(conf=0.25, classes=None)
    assert after == before
    times = gpu_detector.last_times
    assert times.preprocess_ms > 0 and times.inference_ms > 0 and times.postprocess_ms > 0


def test_host_nms_gives_the_same_detections(images: Images) -> None:
    with (
        GpuDetector.from_model(model_path(), nms="host") as host,
        GpuDetector.from_model(model_path(), nms="gpu") as gpu,
    ):
        for name in ("bus", "zidane", "street_1080p"):
            a, b = host(images[name]), gpu(images[name])
            np.testing.assert_array_equal(a.boxes, b.boxes, err_msg=name)
            np.testing.assert_array_equal(a.class_ids, b.class_ids, err_msg=name)


def test_ultralytics_torchscript_export_loads_and_agrees(tmp_path: Path, images: Images) -> None:
    pytest.importorskip("ultralytics", reason="exporting TorchScript the Ultralytics way needs it")
    from yolo_trt_ros.testing.ultralytics_torch import export_torchscript, ultralytics_from_onnx

    with GpuDetector.from_model(model_path(), rect=False) as onnx:
        names = onnx.names
        expected = {name: onnx(images[name]) for name in ("bus", "zidane")}
    path = tmp_path / "yolo11n.torchscript"
    export_torchscript(ultralytics_from_onnx(model_path(), names), path)
    with GpuDetector.from_model(path, backend_options={"precision": "fp16"}) as scripted:
        assert scripted.backend.input_specs[0].shape == (1, 3, 640, 640)
        assert scripted.names == names
        for name, reference in expected.items():
            got = scripted(images[name])
            problems = unmatched(reference, got, min_score=0.3, min_iou=0.97)
            problems += unmatched(got, reference, min_score=0.3, min_iou=0.97)
            assert not problems, (name, problems)


def test_gpu_pipeline_refuses_a_host_backend() -> None:
    with pytest.raises(BackendNotAvailableError, match="device buffers"):
        GpuDetector.from_model(model_path(), backend="onnxruntime", device="cpu")
