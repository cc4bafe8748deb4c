"""TensorRT on a real GPU: the engine build with progress, the device backend, the GPU pipeline on it.

Skipped, with the reason, where there is no CUDA device or no TensorRT (the CI machine). The
engine is built once per machine into the default engine cache (a quick FP16 build, optimisation
level 0, as the node's first configure makes it), so a second run of this file loads it.
The reference is the CPU pipeline (ONNX Runtime, FP32) on the same model and images: TensorRT FP16
must find the same objects (same class, IoU >= 0.9) for detections scoring above 0.3.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from gpu_support import (
    best_matches,
    cuda_skip_reason,
    disagreements,
    model_path,
    nvimgcodec_skip_reason,
    unmatched,
)

from yolo_trt_ros.detector import Detector


def _tensorrt_skip_reason() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed here (it comes with JetPack, or from NVIDIA for x86 GPUs)"
    return None


_reason = cuda_skip_reason() or _tensorrt_skip_reason()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")
if _reason is None:
    from yolo_trt_ros.backends import load_backend
    from yolo_trt_ros.backends.tensorrt_backend import TensorRTBackend
    from yolo_trt_ros.cuda.runtime import CudaEvent, DeviceBuffer, allocation_stats, fill_int32
    from yolo_trt_ros.engine.cache import EngineCache
    from yolo_trt_ros.engine.manager import EngineManager, ExportRequest, PreparedModel
    from yolo_trt_ros.errors import BackendNotAvailableError, CudaError
    from yolo_trt_ros.gpu.pipeline import HOST_STEPS, GpuDetector
    from yolo_trt_ros.testing.sample_images import build_sample_images, write_calibration_folder

Images = dict[str, npt.NDArray[np.uint8]]
Progress = list[tuple[float, str, float, str]]


@pytest.fixture(scope="module")
def images() -> Images:
    return build_sample_images()


@pytest.fixture(scope="module")
def build_progress() -> Progress:
    return []


@pytest.fixture(scope="module")
def fp16_engine(build_progress: Progress) -> PreparedModel:
    started = time.monotonic()

    def progress(stage: str, percent: float, message: str) -> None:
        build_progress.append((time.monotonic() - started, stage, percent, message))
        print(f"[{time.monotonic() - started:6.1f} s] {stage} {percent:3.0f}% {message}")

    manager = EngineManager(EngineCache(), progress=progress)
    request = ExportRequest(model_path(), precision="fp16", backend="tensorrt", quick_first=True)
    return manager.prepare(request)


@pytest.fixture(scope="module")
def cpu_detector() -> Iterator[Detector]:
    with Detector.from_model(model_path(), backend="onnxruntime", device="cpu") as detector:
        yield detector


def test_quick_build_reports_progress_and_names_the_full_build(
    fp16_engine: PreparedModel, build_progress: Progress
) -> None:
    assert fp16_engine.backend == "tensorrt" and fp16_engine.precision == "fp16"
    assert fp16_engine.engine_path.endswith(".engine")
    if fp16_engine.from_cache:
        pytest.skip("the engine came from the cache: no build to watch on this run")
    assert fp16_engine.optimization_level == 0
    assert fp16_engine.follow_up is not None and not fp16_engine.follow_up.quick_first
    stamps = [stamp for stamp, stage, _, _ in build_progress if stage == "build"]
    gaps = np.diff(stamps)
    print(f"build took {stamps[-1] - stamps[0]:.1f} s; longest silence {gaps.max():.1f} s")
    assert any("elapsed" in message for *_, message in build_progress) or stamps[-1] < 10


def test_backend_runs_on_the_named_gpu_with_fixed_buffers(fp16_engine: PreparedModel) -> None:
    with load_backend(fp16_engine.path, "tensorrt", "cuda:0") as backend:
        assert isinstance(backend, TensorRTBackend)
        assert backend.device == "cuda:0" and backend.version.startswith("tensorrt ")
        assert backend.metadata.names[0] == "person" and len(backend.metadata.names) == 80
        assert backend.input_specs[0].dtype == np.float32  # FP16 inside, FP32 at the edges
        binding = backend.binding((1, 3, 640, 640))
        assert backend.binding((1, 3, 640, 640)) is binding
        assert binding.input.shape == (1, 3, 640, 640)
        blank = np.full((1, 3, 640, 640), 114 / 255, np.float32)
        first = backend.infer(blank)
        assert first[0].shape == (1, 84, 8400) and np.isfinite(first[0]).all()
        np.testing.assert_array_equal(first[0], backend.infer(blank)[0])
    with pytest.raises((BackendNotAvailableError, CudaError), match="cuda:"):
        load_backend(fp16_engine.path, "tensorrt", "cuda:99")


def test_gpu_pipeline_on_tensorrt_matches_onnxruntime(
    fp16_engine: PreparedModel, cpu_detector: Detector, images: Images
) -> None:
    with GpuDetector.from_model(fp16_engine.path, backend="tensorrt") as detector:
        problems = disagreements(cpu_detector, detector, images, min_iou=0.9)
    assert not problems, "\n".join(problems)


def test_steady_state_allocates_nothing(fp16_engine: PreparedModel, images: Images) -> None:
    frame = images["zidane"]
    with GpuDetector.from_model(fp16_engine.path, backend="tensorrt") as detector:
        detector(frame)
        before = allocation_stats().device_allocations, allocation_stats().pinned_allocations
        for _ in range(20):
            detector(frame)
        after = allocation_stats().device_allocations, allocation_stats().pinned_allocations
        steps = detector.last_host_steps_ms  # the pipeline's own marks, for the benchmarks
    assert after == before
    assert list(steps) == list(HOST_STEPS) and min(steps.values()) >= 0.0


def test_work_queued_before_the_call_counts_as_preprocessing(
    fp16_engine: PreparedModel, images: Images
) -> None:
    """A JPEG decoded on the GPU is queued on the pipeline's stream before the call: its time is
    the frame's preprocessing (InferenceTiming's contract), not its postprocessing. Fills of a
    256 MiB buffer stand in for the decode, about 5 ms of them, timed alone first. Best of three
    tries: another process on the GPU (a TensorRT build) can stretch one."""
    frame = images["zidane"]
    words = 1 << 26
    with (
        GpuDetector.from_model(fp16_engine.path, backend="tensorrt") as detector,
        DeviceBuffer(detector.cuda_device, words * 4) as buffer,
        CudaEvent(timing=True) as start,
        CudaEvent(timing=True) as end,
    ):
        stream = detector.stream

        def fill(times: int) -> None:
            for _ in range(times):
                fill_int32(buffer.ptr, 7, words, stream)

        def timed_fill(times: int) -> float:
            start.record(stream)
            fill(times)
            end.record(stream)
            end.synchronize()
            return start.elapsed_ms(end)

        one = min(timed_fill(1) for _ in range(5))  # the first is a cold start
        repeats = min(1000, max(1, int(5.0 / max(one, 1e-3))))
        for _ in range(2):  # the first frame of a size also prepares its buffers
            detector(frame)
        tries = []
        for _ in range(3):
            fill_ms = timed_fill(repeats)
            detector(frame)
            quiet = detector.last_times
            fill(repeats)
            detector(frame)
            loaded = detector.last_times
            tries.append((fill_ms, quiet, loaded))
            # the host's part of preprocessing (the upload) overlaps the fills: only they are sure
            if (
                fill_ms > 2.0
                and loaded.preprocess_ms >= 0.8 * fill_ms
                and loaded.postprocess_ms < quiet.postprocess_ms + 0.2 * fill_ms
            ):
                break
        else:
            pytest.fail(f"the fills were not preprocessing in any try: {tries}")
    print(f"{repeats} fills {fill_ms:.2f} ms; without them {quiet}; after them {loaded}")


def test_cuda_graph_replays_the_engine_as_plain_execution_does(
    fp16_engine: PreparedModel, images: Images
) -> None:
    options = {"cuda_graph": False}
    with (
        GpuDetector.from_model(
            fp16_engine.path, backend="tensorrt", backend_options=options
        ) as plain,
        GpuDetector.from_model(fp16_engine.path, backend="tensorrt") as graphed,
    ):
        for _ in range(2):  # the first frames run plainly and capture; the rest replay
            for name, image in images.items():
                a, b = plain(image), graphed(image)
                assert not unmatched(a, b, min_score=0.25, min_iou=0.99), name
                assert not unmatched(b, a, min_score=0.25, min_iou=0.99), name
                if len(a.scores) == len(b.scores):
                    np.testing.assert_allclose(np.sort(a.scores), np.sort(b.scores), atol=1e-3)
        backend = graphed.backend
        assert isinstance(backend, TensorRTBackend)
        assert backend.version.endswith("(CUDA graph)"), backend.version  # no capture was refused
        binding = backend.binding((1, 3, 640, 640))
        assert getattr(binding, "graph", None) is not None
        assert plain.backend.version.endswith("(no CUDA graph)")


def test_host_path_and_device_path_agree(fp16_engine: PreparedModel, images: Images) -> None:
    with (
        Detector.from_model(fp16_engine.path, backend="tensorrt") as host,
        GpuDetector.from_model(fp16_engine.path, backend="tensorrt") as device,
    ):
        for name in ("bus", "zidane"):
            a, b = host(images[name]), device(images[name])
            assert not unmatched(a, b, min_score=0.3, min_iou=0.9), name


def test_int8_engine_recalls_the_fp32_detections(
    tmp_path: Path, cpu_detector: Detector, images: Images
) -> None:
    """INT8 by this TensorRT's route (its own calibration before 10, Q/DQ after) against FP32.

    As for the Q/DQ ONNX on ONNX Runtime (test/engine/test_precision.py): FP32 detections at 0.25
    found among the INT8 ranking (down to 0.05), same class, IoU >= 0.5; and how far the scores
    of the found ones moved.
    """
    started = time.monotonic()
    manager = EngineManager(
        EngineCache(),
        progress=lambda stage, percent, message: print(
            f"[{time.monotonic() - started:6.1f} s] {stage} {percent:3.0f}% {message}"
        ),
    )
    calibration = write_calibration_folder(tmp_path / "calibration")
    prepared = manager.prepare(
        ExportRequest(
            model_path(),
            precision="int8",
            backend="tensorrt",
            optimization_level=0,
            calibration_dir=calibration,
        )
    )
    found, total, shifts = 0, 0, []
    with Detector.from_model(prepared.path, backend="tensorrt", conf=0.05) as int8:
        for image in images.values():
            reference, quantized = cpu_detector(image), int8(image)
            for index, (iou, match) in enumerate(best_matches(reference, quantized)):
                total += 1
                if iou >= 0.5:
                    found += 1
                    shifts.append(float(quantized.scores[match] - reference.scores[index]))
    recall = found / total
    shift = np.asarray(shifts)
    print(
        f"INT8 ({prepared.engine_path}): recall of {total} FP32 detections at IoU 0.5 {recall:.3f}; "
        f"score shift mean {shift.mean():+.3f}, mean absolute {np.abs(shift).mean():.3f}, "
        f"largest {shift[np.argmax(np.abs(shift))]:+.3f}"
    )
    assert recall >= 0.9
    assert np.abs(shift).mean() <= 0.1


@pytest.mark.skipif(nvimgcodec_skip_reason() is not None, reason=nvimgcodec_skip_reason() or "")
def test_jpeg_decoded_on_the_gpu_enters_the_pipeline_without_a_host_copy(
    fp16_engine: PreparedModel, cpu_detector: Detector, images: Images
) -> None:
    import cv2

    from yolo_trt_ros.image_decoders import NvImgCodecDecoder

    decoder = NvImgCodecDecoder(0)
    colour = {
        name: image for name, image in images.items() if image.ndim == 3 and image.shape[2] == 3
    }
    with GpuDetector.from_model(fp16_engine.path, backend="tensorrt") as detector:
        for name, image in colour.items():
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            decoded = decoder.decode_on_device(np.asarray(encoded).ravel(), detector.stream.ptr)
            assert decoded is not None, name
            on_gpu, pixel_format = decoded
            uploads = detector.uploader.uploads
            from_gpu = detector(on_gpu, pixel_format)
            assert detector.uploader.uploads == uploads, f"{name}: the frame went through the host"
            pixels = np.asarray(on_gpu.cpu(), np.uint8)  # the same decode, through the host
            assert pixels.shape == image.shape, name
            from_host = detector(pixels, pixel_format)
            np.testing.assert_array_equal(from_gpu.class_ids, from_host.class_ids, err_msg=name)
            np.testing.assert_allclose(from_gpu.boxes, from_host.boxes, atol=1e-3, err_msg=name)
            # and the objects ONNX Runtime finds in those pixels
            reference = cpu_detector(pixels, pixel_format)
            assert not unmatched(reference, from_gpu, min_score=0.3, min_iou=0.9), name
    assert (decoder.gpu_decodes, decoder.fallbacks) == (len(colour), 0)
