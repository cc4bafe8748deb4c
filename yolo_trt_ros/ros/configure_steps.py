"""The detector node's configure, step by step: each step returns what to apply and what to log.

In order: read (and if asked, switch) the Jetson power mode, tune the heap, choose the JPEG
decoder (before a possibly long engine build), resolve the runtime plan, prepare the model
through the engine manager, open and warm up the detector. The node applies the results and logs
the notes; a step that raises fails the configure (yolo_trt_ros.ros.detector_node).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, PreparedModel
from yolo_trt_ros.engine.tensorrt_build import TensorRTBuilder
from yolo_trt_ros.heap import HeapTuning, keep_frame_buffers
from yolo_trt_ros.image_decoders import DecoderChoice, make_decoder
from yolo_trt_ros.jetson import Nvpmodel, PowerModeCheck, check_power_mode
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.runtime_plan import (
    Machine,
    RuntimePlan,
    open_detector,
    prepare_model,
    resolve_plan,
)
from yolo_trt_ros.settings import DetectorConfig, resolve_classes

__all__ = [
    "Note",
    "choose_decoder",
    "engine_manager",
    "open_configured",
    "plan_runtime",
    "power_mode",
    "prepare",
    "tune_heap",
]


@dataclass(frozen=True)
class Note:
    """One line for the node's log, at its level."""

    level: Literal["debug", "info", "warn"]
    text: str

    def log(self, logger: Any) -> None:
        """Write the line with ``logger`` (an rclpy logger)."""
        # one call per level: rclpy refuses another severity from the same line of code
        if self.level == "warn":
            logger.warn(self.text)
        elif self.level == "info":
            logger.info(self.text)
        else:
            logger.debug(self.text)


def power_mode(nvpmodel: Nvpmodel, config: DetectorConfig) -> tuple[PowerModeCheck, Note]:
    """Read (and if asked, switch) the Jetson power mode; a problem is a warning, never fatal."""
    check = check_power_mode(nvpmodel, config.expected_power_modes, switch=config.set_power_mode)
    text = f"power mode: {check.summary}"
    if check.level == "WARN":
        return check, Note("warn", text)
    if check.mode_name or config.expected_power_modes:
        return check, Note("info", text)
    return check, Note("debug", text)


def tune_heap(config: DetectorConfig, heap: HeapTuning) -> tuple[HeapTuning, Note | None]:
    """Apply the heap settings once per process (they cannot be undone); ``heap``: so far."""
    if config.reuse_frame_memory and not heap.applied:
        tuned = keep_frame_buffers()
        return tuned, Note("info", f"frame memory: {tuned.detail}")
    return heap, None


def choose_decoder(config: DetectorConfig) -> tuple[DecoderChoice | None, Note | None]:
    """Choose the JPEG/PNG decoder, where a camera sends compressed frames."""
    topics = range(len(config.image_topics))
    if not any(config.input_type_of(index) == "compressed" for index in topics):
        return None, None
    choice = make_decoder(config.jpeg_decoder, config.device)
    return choice, Note("info", f"compressed frames: {choice.decoder.name} ({choice.reason})")


def plan_runtime(
    config: DetectorConfig, machine: Machine | None = None
) -> tuple[Path, RuntimePlan, list[Note]]:
    """Return the model file and the runtime plan for it (INT8 without calibration frames: FP16).

    ``machine``: what the plan is resolved for (default: this machine, ``Machine.detect()``).
    """
    model = Path(config.model).expanduser() if config.model else bundled_model_path()
    plan = resolve_plan(
        model, config.backend, config.precision, config.device, config.pipeline, machine=machine
    )
    notes = [Note("warn", warning) for warning in plan.warnings]
    if plan.precision == "int8" and not config.calibration_dir and plan.backend != "torch":
        # A power-mode profile may ask for INT8 on a robot without calibration frames at hand.
        notes.append(
            Note(
                "warn",
                "precision int8 needs calibration_dir (a folder of typical camera frames); using "
                "fp16 until one is set",
            )
        )
        plan = replace(plan, precision="fp16")
    notes.append(
        Note(
            "info",
            f"configuring: model {config.model or 'bundled YOLO11n'}: {plan.describe()} "
            f"({'; '.join(plan.reasons)})",
        )
    )
    return model, plan, notes


def engine_manager(
    config: DetectorConfig,
    log: Callable[[str], None],
    what: str,
    cancel: threading.Event | None = None,
) -> EngineManager:
    """Make the engine manager over the configured cache; its progress goes to ``log`` as ``what``."""
    cache = EngineCache(
        Path(config.engine_cache_dir) if config.engine_cache_dir else None,
        config.engine_cache_policy,
    )

    def progress(stage: str, percent: float, message: str) -> None:
        log(f"{what} [{stage} {percent:.0f}%]: {message}")

    return EngineManager(
        cache, builder_factory=functools.partial(TensorRTBuilder, cancel=cancel), progress=progress
    )


def prepare(
    config: DetectorConfig, model: Path, plan: RuntimePlan, log: Callable[[str], None]
) -> PreparedModel:
    """Find or build the engine (or precision-prepared ONNX) through the engine manager."""
    prepared = prepare_model(
        plan,
        model,
        engine_manager(config, log, "configuring"),
        image_size=(config.image_size, config.image_size) if config.image_size else None,
        calibration_dir=Path(config.calibration_dir) if config.calibration_dir else None,
        optimization_level=config.optimization_level,
        quick_first=config.optimize_in_background,
    )
    if prepared.note:
        log(f"configuring: {prepared.note}")
    return prepared


def open_configured(plan: RuntimePlan, path: Path, config: DetectorConfig) -> Detector:
    """Open the detector with the configured settings and classes, warmed up; closed on failure."""
    detector = open_detector(
        plan,
        path,
        cuda_graph=config.cuda_graph,
        conf=config.confidence_threshold,
        iou=config.iou_threshold,
        max_det=config.max_detections,
        agnostic=config.agnostic_nms,
        imgsz=config.image_size or None,
    )
    try:
        detector.update_settings(classes=resolve_classes(config.classes, detector.names))
        if config.warmup_runs:
            detector.warmup(config.warmup_runs)
    except Exception:
        detector.close()
        raise
    return detector
