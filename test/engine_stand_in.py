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
from yolo_trt_ros.engine.tensorrt_build import (
    INT8_QDQ,
    TYPED_ONNX,
    BuildOutput,
    Calibration,
    ProgressCallback,
)

FINGERPRINT = DeviceFingerprint("NVIDIA Stand-in GPU", "8.7", "10.13.0.35", "12.6", "36.4.3")


class StandInBuilder:
    """Builds fake engines; logs each build to ``log`` and can be slow on purpose."""

    def __init__(
        self,
        log: Path | None = None,
        route: str = TYPED_ONNX,
        refuse_timing_cache: bool = False,
        int8: str = INT8_QDQ,
    ) -> None:
        self.log = log
        self.route = route
        self.refuse_timing_cache = refuse_timing_cache
        self.int8 = int8
        self.calibrations: list[Calibration | None] = []  # what each build was given

    def version(self) -> str:
        return FINGERPRINT.tensorrt_version

    def precision_route(self, dla: bool) -> str:
        return self.route

    def int8_route(self) -> str:
        return self.int8

    def build(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
        calibration: Calibration | None = None,
    ) -> BuildOutput:
        progress("build", 50.0, "stand-in build")
        self.calibrations.append(calibration)
        if self.log is not None:
            with self.log.open("a") as out:
                out.write(f"{spec.precision} {onnx_path.name} level {spec.optimization_level}\n")
        digest = hashlib.sha256(
            onnx_path.read_bytes() + json.dumps(asdict(spec), sort_keys=True).encode()
        )
        refused = "stand-in refuses it" if self.refuse_timing_cache and timing_cache else ""
        kept = b"" if refused else (timing_cache or b"")
        # a calibrated build's "table" names its images, so a test can tell it was kept and reused
        table = None
        if calibration is not None:
            table = calibration.table or b"TABLE " + b",".join(
                p.name.encode() for p in calibration.files
            )
        engine = b"STAND-IN-ENGINE" + digest.digest() * 64
        return BuildOutput(engine, kept + b"+timing", refused, table)


def fingerprint(device_index: int, tensorrt_version: str) -> DeviceFingerprint:
    """The stand-in device's fingerprint (the real one reads the GPU through cuda-python)."""
    return DeviceFingerprint(
        FINGERPRINT.gpu_name,
        FINGERPRINT.compute_capability,
        tensorrt_version,
        FINGERPRINT.cuda_version,
        FINGERPRINT.l4t_release,
    )
