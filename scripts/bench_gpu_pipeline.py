#!/usr/bin/env python3
"""Benchmark the GPU pipeline against the bare forward pass and Ultralytics' predict, on one GPU.

In one process, for the 1080p street frame of yolo_trt_ros/testing/sample_images.py and its INTER_AREA reductions
to 1280x720 and 640x480 (the CPU benchmark's frames), with YOLO11n at imgsz 640 in FP16:

a) ``bare_forward``: the torch backend's CUDA graph alone, launched on the pipeline's stream on an
   input already on the GPU, and waited for (host wall time; ``bare_forward_device`` is its GPU
   time from CUDA events). The floor.
b) ``pipeline``: ``GpuDetector(frame)``: host BGR frame -> host detections (staging, upload,
   letterbox kernel, graph, decode + NMS kernels, copy back, one wait, boxes to frame pixels).
c) ``ultralytics``: ``YOLO(model).predict(frame, half=True, device=0, imgsz=640)``, Ultralytics
   8.4's own pipeline on the same GPU. The package ships no yolo11n.pt (runs offline), so the model is
   ``yolo11n.yaml`` with the ONNX file's weights loaded by layer name (BatchNorm set to identity
   around the folded biases): the same network and weights, run by Ultralytics' PyTorch path.

a) and b) are interleaved within each iteration (rotating which goes first) after warm-up runs,
then c) runs alone, because Ultralytics' CPU-heavy call slows whatever runs right after it;
``all_four_interleaved_wall_ms`` reports all of them interleaved too. ``pipeline_new_message``
feeds a fresh copy of the frame each call (made untimed), as a ROS message arrives in a new buffer;
``pipeline_pinned_upload`` stages the frame in pinned memory itself instead of letting the driver
copy from pageable memory (the default).
Besides the medians, the report holds the pipeline's stages (``last_times``), the letterbox kernel's
device time, the upload in several variants, the host copy and DMA rates, the pipeline's host
steps, GPU vs host NMS, the letterbox's error against the CPU preprocessor over every sample
image and pixel format, and agreement of the three detectors' boxes. Goals (1080p):
pipeline <= 1.3 x bare forward, >= 4 x faster than Ultralytics, letterbox kernel <= 0.15 ms of
device time. JSON to stdout and --out-dir/bench_gpu.json, plots bench_gpu_bars.png and
bench_gpu_cdf.png beside it.

Run where a CUDA GPU, torch, onnx2torch and cuda-python exist (and ultralytics for c)::

    YOLO_OFFLINE=1 python scripts/bench_gpu_pipeline.py --model yolo11n.onnx --out-dir bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
import torch

from yolo_trt_ros.core.decode import DecodeSettings
from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.core.nms import box_iou
from yolo_trt_ros.core.preprocess import Preprocessor
from yolo_trt_ros.cuda.runtime import (
    CudaEvent,
    DeviceBuffer,
    PinnedBuffer,
    copy_device_to_host_now,
    copy_host_to_device,
)
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.gpu.decode import GpuRawDecoder
from yolo_trt_ros.gpu.kernels import source_digest
from yolo_trt_ros.gpu.letterbox import GpuLetterbox
from yolo_trt_ros.gpu.pipeline import HOST_STEPS, GpuDetector
from yolo_trt_ros.gpu.upload import HostImageUploader
from yolo_trt_ros.testing.benchmarks import git_commit, street_frames, summarize
from yolo_trt_ros.testing.sample_images import build_sample_images
from yolo_trt_ros.testing.ultralytics_torch import ultralytics_from_onnx

GOAL_SIZE: Final = "1920x1080"
GOAL_PIPELINE_OVER_BARE: Final = 1.3
GOAL_SPEEDUP_OVER_ULTRALYTICS: Final = 4.0
GOAL_PREPROCESS_DEVICE_MS: Final = 0.15
METHODS: Final = (
    "bare_forward",
    "pipeline",
    "pipeline_new_message",
    "pipeline_pinned_upload",
    "ultralytics",
)

Frame = npt.NDArray[np.uint8]


def ultralytics_detections(result: Any, names: dict[int, str]) -> Detections:
    """Turn an Ultralytics result into our Detections, for agreement checks."""
    boxes = result.boxes
    return Detections(
        boxes.xyxy.float().cpu().numpy().astype(np.float32),
        boxes.conf.float().cpu().numpy().astype(np.float32),
        boxes.cls.cpu().numpy().astype(np.int64),
        names,
        tuple(result.orig_shape),
    )


def agreement(reference: Detections, other: Detections, min_score: float = 0.3) -> dict[str, Any]:
    """Match detections above min_score by class and best IoU; report counts and the worst IoU."""
    ious = np.nan_to_num(box_iou(reference.boxes, other.boxes), nan=0.0)
    matched, worst = 0, 1.0
    wanted = [i for i in range(len(reference)) if reference.scores[i] >= min_score]
    for index in wanted:
        same = other.class_ids == reference.class_ids[index]
        best = float(ious[index][same].max()) if same.any() else 0.0
        matched += best >= 0.97
        worst = min(worst, best)
    return {
        "reference_above_min_score": len(wanted),
        "matched_iou_0.97": int(matched),
        "worst_iou": round(worst, 4),
        "counts": [len(reference), len(other)],
    }


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Run a function; return its wall time in ms and its result."""
    start = time.perf_counter()
    result = function()
    return (time.perf_counter() - start) * 1e3, result


def interleave(
    runs: dict[str, Callable[[], Any]],
    iterations: int,
    warmup: int,
    after: Callable[[str, Any], None] | None = None,
) -> dict[str, list[float]]:
    """Time each run once per iteration, rotating which goes first; return wall ms per run."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for iteration in range(iterations):
        for name in names[iteration % len(names) :] + names[: iteration % len(names)]:
            wall, result = timed(runs[name])
            samples[name].append(wall)
            if after is not None:
                after(name, result)
    return samples


def bench_size(
    detector: GpuDetector, yolo: Any, frame: Frame, iterations: int, warmup: int
) -> dict[str, Any]:
    """Time bare forward and pipeline interleaved, Ultralytics alone, then all four interleaved."""
    backend, stream = detector.backend, detector.stream
    geometry = detector.preprocessor.geometry((frame.shape[0], frame.shape[1]))
    shape = (1, 3, *geometry.input_hw)
    start, end = CudaEvent(timing=True), CudaEvent(timing=True)
    device_ms: list[float] = []
    stages: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}
    ultra_speed: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}
    message = [frame.copy()]

    binding = backend.binding(shape)  # the pipeline's input already holds this frame's tensor

    def bare() -> float:
        start.record(stream)
        binding.enqueue(stream)
        end.record(stream)
        end.synchronize()
        return start.elapsed_ms(end)

    def new_message() -> Detections:
        return detector(message[0], "bgr8")

    def ultralytics() -> Any:
        return yolo.predict(frame, half=True, device="cuda:0", imgsz=640, verbose=False)[0]

    def record(name: str, result: Any) -> None:  # runs after the timed call, untimed
        if name == "pipeline_new_message":
            message[0] = frame.copy()  # the next ROS message: a new buffer, just written
        elif name == "bare_forward":
            device_ms.append(result)
        elif name == "pipeline":
            times = detector.last_times
            stages["preprocess"].append(times.preprocess_ms)
            stages["inference"].append(times.inference_ms)
            stages["postprocess"].append(times.postprocess_ms)
        elif name == "ultralytics":
            for key, values in ultra_speed.items():
                values.append(float(result.speed[key]))

    def pinned() -> Detections:
        detector.uploader.staging = "pinned"  # staged by us in page-locked memory
        try:
            return detector(frame, "bgr8")
        finally:
            detector.uploader.staging = "pageable"

    ours: dict[str, Callable[[], Any]] = {
        "bare_forward": bare,
        "pipeline": lambda: detector(frame, "bgr8"),
        "pipeline_new_message": new_message,
        "pipeline_pinned_upload": pinned,
    }
    samples = interleave(ours, iterations, warmup, record)
    samples["bare_forward_device"] = device_ms
    report: dict[str, Any] = {
        "frame_hw": [int(frame.shape[0]), int(frame.shape[1])],
        "model_input_shape": list(shape),
    }
    if yolo is not None:
        samples |= interleave({"ultralytics": ultralytics}, iterations, warmup, record)
        mixed = interleave({**ours, "ultralytics": ultralytics}, iterations // 2, 2)
        report["all_four_interleaved_wall_ms"] = {n: summarize(v) for n, v in mixed.items()}
        report["ultralytics_own_speed_ms"] = {k: summarize(v) for k, v in ultra_speed.items()}
    for event in (start, end):
        event.close()
    detections = detector(frame, "bgr8")
    report |= {
        "wall_ms": {name: summarize(values) for name, values in samples.items()},
        "pipeline_stages_ms": {name: summarize(values) for name, values in stages.items()},
        "detections": len(detections),
        "samples_ms": {name: [round(v, 4) for v in values] for name, values in samples.items()},
    }
    if yolo is not None:
        theirs = ultralytics_detections(ultralytics(), detector.names)
        report["agreement_ultralytics_vs_pipeline"] = agreement(theirs, detections)
    return report


def letterbox_device_times(detector: GpuDetector, frame: Frame, repeats: int) -> dict[str, Any]:
    """Device time of the letterbox kernel alone, and the upload's cost in several variants."""
    stream = detector.stream
    geometry = detector.preprocessor.geometry((frame.shape[0], frame.shape[1]))
    target = detector.backend.binding((1, 3, *geometry.input_hw)).input
    rows = detector.letterbox.source_rows(geometry, 3)
    start, end = CudaEvent(timing=True), CudaEvent(timing=True)
    source = detector.uploader.upload(frame, stream, rows)
    stream.synchronize()
    detector.uploader.consumed()
    kernel: list[float] = []
    for _ in range(repeats):
        start.record(stream)
        detector.letterbox.enqueue(source, "bgr8", geometry, target, stream)
        end.record(stream)
        end.synchronize()
        kernel.append(start.elapsed_ms(end))
    uploads: dict[str, Any] = {}
    variants = [
        (threads, read_only, write_combined, "pinned")
        for threads in (1, 2, 4)
        for read_only in (False, True)
        for write_combined in (False, True)
    ] + [(1, False, False, "pageable"), (1, True, False, "pageable")]
    for threads, read_only, write_combined, staging in variants:
        uploader = HostImageUploader(
            detector.cuda_device, threads=threads, write_combined=write_combined, staging=staging
        )
        walls, device = [], []
        for _ in range(repeats // 2 + 3):
            t0 = time.perf_counter()
            start.record(stream)
            uploader.upload(frame, stream, rows if read_only else None)
            end.record(stream)
            end.synchronize()
            walls.append((time.perf_counter() - t0) * 1e3)
            device.append(start.elapsed_ms(end))
            uploader.consumed()
        uploader.close()
        rows_name = "rows_read" if read_only else "all_rows"
        name = (
            f"pageable_{rows_name}"
            if staging == "pageable"
            else f"threads_{threads}_{rows_name}" + ("_write_combined" if write_combined else "")
        )
        uploads[name] = {"wall_ms": summarize(walls[3:]), "device_ms": summarize(device[3:])}
    start.close()
    end.close()
    return {
        "frame_hw": [int(frame.shape[0]), int(frame.shape[1])],
        "frame_bytes": int(frame.nbytes),
        "rows_read": None if rows is None else len(rows),
        "letterbox_kernel_device_ms": summarize(kernel),
        "upload": uploads,
    }


def transfer_rates(detector: GpuDetector, frame: Frame, repeats: int) -> dict[str, Any]:
    """Host copy into pinned memory, host copy between NumPy arrays, and the DMA, each alone."""
    device, stream = detector.cuda_device, detector.stream
    pinned = PinnedBuffer(device, frame.nbytes)
    target = DeviceBuffer(device, frame.nbytes)
    staged = pinned.array(frame.shape, np.uint8)
    plain = np.empty_like(frame)
    plain[:] = frame
    start, end = CudaEvent(timing=True), CudaEvent(timing=True)
    samples: dict[str, list[float]] = {"to_pinned": [], "to_numpy": [], "dma": []}
    for _ in range(repeats):
        samples["to_pinned"].append(timed(lambda: np.copyto(staged, frame))[0])
        samples["to_numpy"].append(timed(lambda: np.copyto(plain, frame))[0])
        start.record(stream)
        copy_host_to_device(target.ptr, pinned.ptr, frame.nbytes, stream)
        end.record(stream)
        end.synchronize()
        samples["dma"].append(start.elapsed_ms(end))
    for owner in (start, end, pinned, target):
        owner.close()
    report: dict[str, Any] = {"bytes": int(frame.nbytes)}
    for name, values in samples.items():
        stats = summarize(values[3:])
        report[name] = {"ms": stats, "GB_per_s": round(frame.nbytes / stats["median"] / 1e6, 2)}
    return report


def host_steps(detector: GpuDetector, frame: Frame, repeats: int) -> dict[str, Any]:
    """Where a pipeline call spends its host time, from the pipeline's own step marks."""
    samples: dict[str, list[float]] = {name: [] for name in HOST_STEPS}
    for _ in range(repeats):
        detector(frame, "bgr8")
        for name, milliseconds in detector.last_host_steps_ms.items():
            samples[name].append(milliseconds)
    return {name: summarize(values[3:]) for name, values in samples.items()}


def nms_placement(detector: GpuDetector, frame: Frame, repeats: int) -> dict[str, Any]:
    """Decode + NMS on the same head output with NMS on the GPU and on the host (wall ms)."""
    detector(frame, "bgr8")  # leaves this frame's head in the backend's output buffer
    geometry = detector.preprocessor.geometry((frame.shape[0], frame.shape[1]))
    head = detector.backend.binding((1, 3, *geometry.input_hw)).enqueue(detector.stream)[0]
    detector.stream.synchronize()
    report: dict[str, Any] = {}
    for conf in (0.25, 0.01):
        settings = DecodeSettings(conf=conf)
        answers = {}
        for place in ("gpu", "host"):
            decoder = GpuRawDecoder(detector.cuda_device, len(detector.names), nms=place)
            walls = []
            for _ in range(repeats + 3):
                t0 = time.perf_counter()
                decoder.enqueue(head, settings, detector.stream)
                detector.stream.synchronize()
                raw = decoder.result()
                walls.append((time.perf_counter() - t0) * 1e3)
            answers[place] = raw
            report[f"conf_{conf}_{place}"] = {
                "wall_ms": summarize(walls[3:]),
                "kept": len(raw.scores),
            }
            decoder.close()
        report[f"conf_{conf}_same_answer"] = bool(
            np.array_equal(answers["gpu"].boxes, answers["host"].boxes)
            and np.array_equal(answers["gpu"].class_ids, answers["host"].class_ids)
        )
    return report


def pixel_format_variants(image: Frame) -> dict[str, Frame]:
    """Return the image in every pixel format the GPU letterbox takes (from BGR), or as it is."""
    if image.ndim == 2:
        return {"mono8": image}
    if image.shape[2] == 4:
        return {"bgra8": image, "rgba8": np.ascontiguousarray(image[..., [2, 1, 0, 3]])}
    return {
        "bgr8": image,
        "rgb8": np.ascontiguousarray(image[..., ::-1]),
        "bgra8": np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)),
        "rgba8": np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGBA)),
        "mono8": np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)),
    }


def letterbox_errors(detector: GpuDetector, frames: dict[str, Frame]) -> dict[str, Any]:
    """GPU letterbox vs the CPU Preprocessor (OpenCV) over sample images, formats and precisions."""
    images = {f"frame_{k}": v for k, v in frames.items()} | build_sample_images()
    stream, device = detector.stream, detector.cuda_device
    cases: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for dtype, label in ((np.float32, "fp32"), (np.float16, "fp16")):
        cpu = Preprocessor(640, rect=True, dtype=dtype)
        letterbox = GpuLetterbox(device, cpu)
        worst, total, count, exact = 0.0, 0.0, 0, 0
        for name, image in images.items():
            for pixel_format, pixels in pixel_format_variants(image).items():
                expected, geometry = cpu(pixels, pixel_format)
                got = np.empty(expected.shape, dtype)
                with DeviceBuffer(device, expected.nbytes) as out:
                    array = out.array(expected.shape, dtype)
                    source = detector.uploader.upload(pixels, stream)
                    letterbox.enqueue(source, pixel_format, geometry, array, stream)
                    stream.synchronize()
                    detector.uploader.consumed()
                    copy_device_to_host_now(got, array.ptr)
                error = np.abs(got.astype(np.float64) - expected.astype(np.float64))
                worst = max(worst, float(error.max()))
                total += float(error.sum())
                count += error.size
                exact += int((error == 0).sum())
                cases.append(
                    {
                        "image": name,
                        "format": pixel_format,
                        "dtype": label,
                        "max_in_grey_levels": round(float(error.max()) * 255, 4),
                        "mean_in_grey_levels": round(float(error.mean()) * 255, 6),
                    }
                )
        letterbox.close()
        summary[label] = {
            "max_abs": worst,
            "max_abs_in_grey_levels": round(worst * 255, 4),
            "mean_abs": total / count,
            "mean_abs_in_grey_levels": round(total / count * 255, 6),
            "exact_fraction": round(exact / count, 6),
            "values_compared": count,
        }
    return {"summary": summary, "cases": cases}


def plot(report: dict[str, Any], out_dir: Path) -> list[str]:
    """Write a grouped bar chart of medians and a latency CDF at 1080p; return the file names."""
    import matplotlib  # noqa: PLC0415 - plotting is optional

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = report["sizes"]
    labels = list(sizes)
    methods = [m for m in METHODS if all(m in sizes[s]["wall_ms"] for s in labels)]
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(methods)
    for index, method in enumerate(methods):
        medians = [sizes[s]["wall_ms"][method]["median"] for s in labels]
        lows = [
            sizes[s]["wall_ms"][method]["median"] - sizes[s]["wall_ms"][method]["min"]
            for s in labels
        ]
        highs = [
            sizes[s]["wall_ms"][method]["p90"] - sizes[s]["wall_ms"][method]["median"]
            for s in labels
        ]
        positions = np.arange(len(labels)) + (index - (len(methods) - 1) / 2) * width
        bars = axis.bar(positions, medians, width, yerr=[lows, highs], capsize=3, label=method)
        axis.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    axis.set_xticks(np.arange(len(labels)), labels)
    axis.set_ylabel("ms per frame (median; whiskers min..p90)")
    axis.set_title(f"YOLO11n FP16 on {report['environment']['gpu']}: host image -> host detections")
    axis.legend()
    figure.tight_layout()
    bars_path = out_dir / "bench_gpu_bars.png"
    figure.savefig(bars_path, dpi=120)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(8, 4.5))
    samples = sizes[GOAL_SIZE]["samples_ms"]
    for method in methods:
        values = np.sort(np.asarray(samples[method]))
        axis.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=method)
    axis.set_xscale("log")
    ticks = [t for t in (1, 1.25, 1.5, 2, 3, 5, 8, 12, 20) if t <= axis.get_xlim()[1]]
    axis.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axis.set_xlabel("ms per frame (log scale)")
    axis.set_ylabel("fraction of frames")
    axis.set_title(f"Latency CDF at {GOAL_SIZE}")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    cdf_path = out_dir / "bench_gpu_cdf.png"
    figure.savefig(cdf_path, dpi=120)
    plt.close(figure)
    return [bars_path.name, cdf_path.name]


def environment(detector: GpuDetector) -> dict[str, Any]:
    """Describe what the numbers depend on: GPU, library versions, kernels and commit."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "gpu": torch.cuda.get_device_name(0),
        "compute_capability": list(detector.cuda_device.compute_capability),
        "torch": torch.__version__,
        "cuda_runtime_of_torch": torch.version.cuda,
        "cuda_bindings": installed("cuda-bindings"),
        "ultralytics": installed("ultralytics"),
        "onnx2torch": installed("onnx2torch"),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "backend": detector.backend.version,
        "kernels": {name: source_digest(name) for name in ("letterbox.cu", "postprocess.cu")},
        # the GPU machine gets a copy of the working tree, not necessarily its git history
        "git_commit": os.environ.get("YOLO_TRT_ROS_GIT_COMMIT") or git_commit(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Benchmark every frame size in one process; gather the side measurements and the goals."""
    frames = street_frames()
    detector = GpuDetector.from_model(
        args.model, backend="torch", backend_options={"precision": "fp16"}
    )
    with detector:
        yolo, ultralytics_error = None, None
        if not args.no_ultralytics:
            try:
                yolo = ultralytics_from_onnx(args.model or _bundled_model(), detector.names)
            except Exception as error:  # noqa: BLE001 - report it and still measure a) and b)
                ultralytics_error = f"{type(error).__name__}: {error}"
        sizes: dict[str, Any] = {}
        for label, frame in frames.items():
            print(f"benchmarking {label} ({args.iterations} iterations)...", file=sys.stderr)
            sizes[label] = bench_size(detector, yolo, frame, args.iterations, args.warmup)
        preprocess = {
            label: letterbox_device_times(detector, frame, args.iterations)
            for label, frame in frames.items()
        }
        nms = nms_placement(detector, frames[GOAL_SIZE], args.iterations)
        steps = {
            label: host_steps(detector, frame, args.iterations) for label, frame in frames.items()
        }
        transfers = transfer_rates(detector, frames[GOAL_SIZE], args.iterations)
        errors = letterbox_errors(detector, frames)
        cpu_agreement = {}
        with Detector.from_model(args.model, backend="onnxruntime", device="cpu") as cpu:
            for label, frame in frames.items():
                cpu_agreement[label] = agreement(cpu(frame), detector(frame))
        env = environment(detector)
    goal = sizes[GOAL_SIZE]["wall_ms"]
    pipeline, bare = goal["pipeline"]["median"], goal["bare_forward"]["median"]
    fresh = goal["pipeline_new_message"]["median"]
    summary: dict[str, Any] = {
        "size": GOAL_SIZE,
        "medians_ms": {
            label: {name: stats["median"] for name, stats in report["wall_ms"].items()}
            for label, report in sizes.items()
        },
        "pipeline_over_bare_forward": round(pipeline / bare, 3),
        "goal_pipeline_over_bare_forward": GOAL_PIPELINE_OVER_BARE,
        "goal_pipeline_over_bare_forward_met": bool(pipeline / bare <= GOAL_PIPELINE_OVER_BARE),
        "pipeline_new_message_over_bare_forward": round(fresh / bare, 3),
        "letterbox_kernel_device_ms_median": preprocess[GOAL_SIZE]["letterbox_kernel_device_ms"][
            "median"
        ],
        "goal_preprocess_device_ms": GOAL_PREPROCESS_DEVICE_MS,
        "goal_preprocess_device_ms_met": bool(
            preprocess[GOAL_SIZE]["letterbox_kernel_device_ms"]["median"]
            <= GOAL_PREPROCESS_DEVICE_MS
        ),
        "letterbox_error": errors["summary"],
    }
    if "ultralytics" in goal:
        speedup = goal["ultralytics"]["median"] / pipeline
        summary |= {
            "speedup_over_ultralytics": round(speedup, 2),
            "goal_speedup_over_ultralytics": GOAL_SPEEDUP_OVER_ULTRALYTICS,
            "goal_speedup_over_ultralytics_met": bool(speedup >= GOAL_SPEEDUP_OVER_ULTRALYTICS),
        }
    return {
        "benchmark": "gpu_pipeline",
        "description": (
            "wall ms per frame (host image -> host detections) of the GPU pipeline, the bare CUDA-graph "
            "forward pass of the same torch backend, and Ultralytics predict(half=True), interleaved"
        ),
        "model": str(args.model) if args.model is not None else "bundled yolo11n.onnx",
        "ultralytics_model": "yolo11n.yaml with the ONNX weights (BatchNorm as identity)",
        "ultralytics_error": ultralytics_error,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "environment": env,
        "summary": summary,
        "sizes": sizes,
        "letterbox_and_upload": preprocess,
        "nms_gpu_vs_host": nms,
        "pipeline_host_steps_ms": steps,
        "transfer_rates_1080p": transfers,
        "agreement_cpu_vs_gpu_pipeline": cpu_agreement,
        "letterbox_error_cases": errors["cases"],
    }


def _bundled_model() -> Path:
    from yolo_trt_ros.models import bundled_model_path  # noqa: PLC0415

    return bundled_model_path()


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark, write the JSON and the plots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations per size")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up runs per size")
    parser.add_argument("--model", type=Path, default=None, help=".onnx model (default: bundled)")
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where JSON and PNGs go")
    parser.add_argument("--no-ultralytics", action="store_true", help="skip c) Ultralytics")
    args = parser.parse_args(argv)
    if args.iterations < 2 or args.warmup < 0:
        parser.error("--iterations must be at least 2 and --warmup at least 0")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    report = run(args)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report["plots"] = plot(report, args.out_dir)
    (args.out_dir / "bench_gpu.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    print(json.dumps(report["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
