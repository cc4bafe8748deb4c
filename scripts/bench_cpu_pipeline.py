#!/usr/bin/env python3
"""Benchmark the CPU detection pipeline stage by stage against the bare ONNX Runtime forward pass.

For three frame sizes showing the same scene (yolo_trt_ros/testing/sample_images.py's ``street_1080p`` composite at
1920x1080, and that frame shrunk with INTER_AREA to 1280x720 and 640x480), one process times:

* the pipeline: ``Detector.from_model()`` (bundled YOLO11n ONNX, rect letterbox, ONNX Runtime on
  the CPU) called on the frame, read back as ``detector.last_times``: preprocess (letterbox,
  BGR -> RGB, /255, NCHW), inference (``backend.infer``) and postprocess (decode, NMS, mapping
  boxes back to the frame), and their total;
* the floor: ``detector.backend.infer`` alone on a copy of the tensor the pipeline feeds (same
  shape, same values, made once before timing).

The two are interleaved within every iteration (alternating which goes first) after a few warm-up
runs, so noise on a shared machine hits both alike. Per size and stage the report gives the median,
p90, min and max in milliseconds, the model input shape, and the overhead ratio
``(median preprocess + median postprocess) / median bare forward``; the summary compares that ratio
at 1080p with the goal (<= 0.15). The JSON goes to stdout (and to ``--out``); progress to stderr.

Run it from the repository root::

    source install/setup.bash && python scripts/bench_cpu_pipeline.py --out bench.json

Options: ``--iterations N`` timed iterations per size (default 50), ``--warmup N`` (default 5),
``--threads N`` ONNX Runtime intra-op threads (default 0: ONNX Runtime's choice, one per core),
``--model PATH`` another .onnx file instead of the bundled one.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.testing.benchmarks import emit_report, git_commit, street_frames, summarize

GOAL_SIZE: Final = "1920x1080"
GOAL_RATIO: Final = 0.15
STAGES: Final = ("preprocess", "inference", "postprocess", "total", "bare_forward")

Frame = npt.NDArray[np.uint8]


def time_pipeline(detector: Detector, frame: Frame, samples: dict[str, list[float]]) -> int:
    """Run the whole pipeline once, append its stage times; return the detection count."""
    detections = detector(frame)
    times = detector.last_times
    samples["preprocess"].append(times.preprocess_ms)
    samples["inference"].append(times.inference_ms)
    samples["postprocess"].append(times.postprocess_ms)
    samples["total"].append(times.total_ms)
    return len(detections)


def time_bare_forward(
    detector: Detector, tensor: npt.NDArray[np.floating], samples: dict[str, list[float]]
) -> None:
    """Run only the ONNX Runtime session on a ready tensor; append its time."""
    start = time.perf_counter()
    detector.backend.infer(tensor)
    samples["bare_forward"].append((time.perf_counter() - start) * 1e3)


def bench_size(detector: Detector, frame: Frame, iterations: int, warmup: int) -> dict[str, Any]:
    """Warm up, then time pipeline and bare forward interleaved; return this size's report."""
    tensor, geometry = detector.preprocessor(frame)
    # The preprocessor returns a view of its reusable buffer: the floor gets its own copy.
    bare_tensor = np.array(tensor, copy=True)
    for _ in range(warmup):
        detector(frame)
        detector.backend.infer(bare_tensor)
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    counts: set[int] = set()
    for iteration in range(iterations):
        if iteration % 2 == 0:
            counts.add(time_pipeline(detector, frame, samples))
            time_bare_forward(detector, bare_tensor, samples)
        else:
            time_bare_forward(detector, bare_tensor, samples)
            counts.add(time_pipeline(detector, frame, samples))
    stats = {stage: summarize(samples[stage]) for stage in STAGES}
    overhead = stats["preprocess"]["median"] + stats["postprocess"]["median"]
    return {
        "frame_hw": [int(frame.shape[0]), int(frame.shape[1])],
        "model_input_shape": [int(d) for d in bare_tensor.shape],
        "resized_hw": list(geometry.resized_hw),
        "detections": sorted(counts),
        "stages_ms": stats,
        "overhead_ratio": round(overhead / stats["bare_forward"]["median"], 4),
    }


def environment(detector: Detector, threads: int) -> dict[str, Any]:
    """Describe what the numbers depend on: library versions, machine, backend and commit."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(affinity) if affinity is not None else None,
        "opencv_threads": cv2.getNumThreads(),
        "backend": detector.backend.version,
        "device": detector.backend.device,
        "intra_op_threads": threads,
        "git_commit": git_commit(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the detector once and benchmark every frame size with it."""
    frames = street_frames()
    detector = Detector.from_model(
        args.model, device="cpu", backend_options={"intra_op_threads": args.threads}
    )
    with detector:
        sizes: dict[str, Any] = {}
        for label, frame in frames.items():
            print(f"benchmarking {label} ({args.iterations} iterations)...", file=sys.stderr)
            sizes[label] = bench_size(detector, frame, args.iterations, args.warmup)
        env = environment(detector, args.threads)
    ratio = sizes[GOAL_SIZE]["overhead_ratio"]
    return {
        "benchmark": "cpu_pipeline",
        "description": (
            "median ms per stage of Detector on the CPU vs the bare ONNX Runtime forward pass; "
            "overhead_ratio = (median preprocess + median postprocess) / median bare_forward"
        ),
        "model": str(args.model) if args.model is not None else "bundled yolo11n.onnx",
        "iterations": args.iterations,
        "warmup": args.warmup,
        "environment": env,
        "sizes": sizes,
        "summary": {
            "size": GOAL_SIZE,
            "overhead_ratio": ratio,
            "goal_max_ratio": GOAL_RATIO,
            "goal_met": bool(ratio <= GOAL_RATIO),
            "medians_ms": {
                label: {stage: report["stages_ms"][stage]["median"] for stage in STAGES}
                | {"overhead_ratio": report["overhead_ratio"]}
                for label, report in sizes.items()
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark, print (and optionally write) the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--iterations", type=int, default=50, help="timed iterations per size (default 50)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="warm-up runs per size (default 5)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="ONNX Runtime intra-op threads (default 0: ONNX Runtime's choice)",
    )
    parser.add_argument(
        "--model", type=Path, default=None, help=".onnx model (default: the bundled yolo11n)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0 or args.threads < 0:
        parser.error("--iterations must be at least 1, --warmup and --threads at least 0")
    report = run(args)
    emit_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
