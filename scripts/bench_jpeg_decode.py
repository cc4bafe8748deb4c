#!/usr/bin/env python3
"""Benchmark JPEG decoding for compressed camera topics: CPU (OpenCV) against GPU (nvImageCodec).

For 640x480, 1920x1080 and 3840x2160 JPEGs of the test street scene (quality 90), times each
decoder that can run here, median and p95 over ``--iterations`` decodes after a warm-up:

* ``opencv``: ``cv2.imdecode`` (libjpeg-turbo), what ``jpeg_decoder: opencv`` uses;
* ``opencv_reduced_2``: libjpeg's half-size DCT decode, for reference (the node decodes in full);
* ``nvimgcodec``: GPU decode and copy to host memory, what ``jpeg_decoder: nvimgcodec`` does;
* ``nvimgcodec_on_device``: the GPU decode alone, the pixels left on the GPU (synchronised);
* ``torchvision_cuda``: ``torchvision.io.decode_jpeg(device="cuda")`` (nvJPEG), for reference.

The process first applies the detector's heap settings (``reuse_frame_memory``, see
yolo_trt_ros/heap.py), as the node does; ``--heap default`` leaves glibc's, under which every
decode also pays for fresh pages for its output. Decoders that cannot run here are listed with
the reason. JSON to stdout and ``--out``; ``--plot`` draws the medians.

    python scripts/bench_jpeg_decode.py --out jpeg.json --plot jpeg.png
"""

from __future__ import annotations

import argparse
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

SIZES: Final = {"640x480": (640, 480), "1920x1080": (1920, 1080), "3840x2160": (3840, 2160)}
Decode = Callable[[npt.NDArray[np.uint8]], object]


def _street(width: int, height: int) -> npt.NDArray[np.uint8]:
    from yolo_trt_ros.testing.sample_images import build_sample_images  # noqa: PLC0415

    street = build_sample_images()["street_1080p"]
    interpolation = cv2.INTER_AREA if width <= street.shape[1] else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(street, (width, height), interpolation=interpolation), np.uint8)


def _cuda_synchronize() -> Callable[[], None]:
    from cuda.bindings import runtime  # noqa: PLC0415

    def synchronize() -> None:
        (status,) = runtime.cudaDeviceSynchronize()
        if status != runtime.cudaError_t.cudaSuccess:
            raise RuntimeError(f"cudaDeviceSynchronize: {status}")

    return synchronize


def decoders() -> tuple[dict[str, Decode], dict[str, str]]:
    """Every decoder that can run here, and why the others cannot."""
    from yolo_trt_ros.image_decoders import NvImgCodecDecoder, OpenCvDecoder  # noqa: PLC0415

    found: dict[str, Decode] = {
        "opencv": OpenCvDecoder().decode,
        "opencv_reduced_2": lambda data: cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2),
    }
    missing: dict[str, str] = {}
    try:
        found["nvimgcodec"] = NvImgCodecDecoder(0).decode
    except Exception as error:  # noqa: BLE001 - report, do not fail the run
        missing["nvimgcodec"] = str(error)
    try:
        from nvidia import nvimgcodec as codec  # noqa: PLC0415 - the same, without the host copy

        decoder = codec.Decoder(device_id=0)
        params = codec.DecodeParams(sample_format=codec.SampleFormat.I_BGR)
        synchronize = _cuda_synchronize()
        reused: list[Any] = [None]

        def on_device(data: npt.NDArray[np.uint8]) -> object:
            reused[0] = decoder.decode(codec.CodeStream(data), image=reused[0], params=params)
            synchronize()
            return reused[0]

        found["nvimgcodec_on_device"] = on_device
    except Exception as error:  # noqa: BLE001
        missing["nvimgcodec_on_device"] = str(error)
    try:
        import torch  # noqa: PLC0415
        import torchvision.io  # noqa: PLC0415

        if not torch.cuda.is_available():
            raise RuntimeError("torch has no CUDA device")

        def torchvision_cuda(data: npt.NDArray[np.uint8]) -> object:
            out = torchvision.io.decode_jpeg(torch.from_numpy(data), device="cuda")
            torch.cuda.synchronize()
            return out

        found["torchvision_cuda"] = torchvision_cuda
    except Exception as error:  # noqa: BLE001
        missing["torchvision_cuda"] = str(error)
    return found, missing


def time_decoder(decode: Decode, data: npt.NDArray[np.uint8], iterations: int) -> dict[str, float]:
    """Median and p95 milliseconds of ``decode(data)`` after five warm-up calls."""
    for _ in range(5):
        decode(data)
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        decode(data)
        times.append((time.perf_counter() - started) * 1e3)
    return {
        "ms_p50": round(float(np.median(times)), 3),
        "ms_p95": round(float(np.percentile(times, 95)), 3),
    }


def plot(records: list[dict[str, Any]], path: Path) -> None:
    """Draw grouped bars: median decode time per size and decoder."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = list(dict.fromkeys(r["size"] for r in records))
    names = list(dict.fromkeys(r["decoder"] for r in records))
    figure, axis = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(names)
    for offset, name in enumerate(names):
        values = [
            next((r["ms_p50"] for r in records if r["size"] == s and r["decoder"] == name), 0.0)
            for s in sizes
        ]
        bars = axis.bar(np.arange(len(sizes)) + offset * width, values, width, label=name)
        axis.bar_label(bars, fmt="%.2f", fontsize=7)
    axis.set_xticks(np.arange(len(sizes)) + width * (len(names) - 1) / 2, sizes)
    axis.set_ylabel("decode, median ms")
    axis.set_title(f"JPEG decode (quality 90) on {platform.node() or 'this machine'}")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--heap", choices=("tuned", "default"), default="tuned")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    heap = "glibc defaults"
    if args.heap == "tuned":
        from yolo_trt_ros.heap import keep_frame_buffers  # noqa: PLC0415

        heap = keep_frame_buffers().detail
    found, missing = decoders()
    records = []
    for size in args.sizes.split(","):
        encoded_ok, encoded = cv2.imencode(
            ".jpg", _street(*SIZES[size]), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        if not encoded_ok:
            raise RuntimeError(f"OpenCV could not encode the {size} test image")
        data = np.asarray(encoded, np.uint8).ravel()
        for name, decode in found.items():
            record = {"size": size, "decoder": name, "jpeg_bytes": int(data.size)}
            record |= time_decoder(decode, data, args.iterations)
            records.append(record)
            print(f"{size} {name}: {record['ms_p50']} ms", file=sys.stderr, flush=True)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        },
        "heap": heap,
        "iterations": args.iterations,
        "unavailable": missing,
        "results": records,
    }
    from yolo_trt_ros.testing.benchmarks import emit_report  # noqa: PLC0415

    emit_report(report, args.out)
    if args.plot:
        plot(records, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
