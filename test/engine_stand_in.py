"""A stand-in for TensorRT's builder, because TensorRT cannot be installed on these machines.

It replaces exactly one thing, the ``EngineBuilder`` adapter (yolo_trt_ros/engine/tensorrt_build.py):
its "engine" is deterministic bytes derived from the ONNX file and the spec, and every build is
appended to a log file so tests can count builds across processes. Everything around it (specs,
keys, cache, sidecars, locks, precision files) is the real code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from yolo_trt_ros.engine.spec import DeviceFingerprint, EngineSpec
from yolo_trt_ros.engine.tensorrt_build import TYPED_ONNX, BuildOutput, ProgressCallback

FINGERPRINT = DeviceFingerprint("NVIDIA Stand-in GPU", "8.7", "10.13.0.35", "12.6", "36.4.3")


class StandInBuilder:
    """Builds fake engines; logs each build to ``log`` and can be slow on purpose."""

    def __init__(
        self, log: Path | None = None, route: str = TYPED_ONNX, refuse_timing_cache: bool = False
    ) -> None:
        self.log = log
        self.route = route
        self.refuse_timing_cache = refuse_timing_cache

    def version(self) -> str:
        return FINGERPRINT.tensorrt_version

    def precision_route(self, dla: bool) -> str:
        return self.route

    def build(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
    ) -> BuildOutput:
        progress("build", 50.0, "stand-in build")
        if self.log is not None:
            with self.log.open("a") as out:
                out.write(f"{spec.precision} {onnx_path.name} level {spec.optimization_level}\n")
        digest = hashlib.sha256(
            onnx_path.read_bytes() + json.dumps(asdict(spec), sort_keys=True).encode()
        )
        refused = "stand-in refuses it" if self.refuse_timing_cache and timing_cache else ""
        kept = b"" if refused else (timing_cache or b"")
        return BuildOutput(b"STAND-IN-ENGINE" + digest.digest() * 64, kept + b"+timing", refused)


def fingerprint(device_index: int, tensorrt_version: str) -> DeviceFingerprint:
    """The stand-in device's fingerprint (the real one reads the GPU through cuda-python)."""
    return DeviceFingerprint(
        FINGERPRINT.gpu_name,
        FINGERPRINT.compute_capability,
        tensorrt_version,
        FINGERPRINT.cuda_version,
        FINGERPRINT.l4t_release,
    )
