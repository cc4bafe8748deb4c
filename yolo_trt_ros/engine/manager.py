"""From a user's model to what the detector loads: export, precision, then a cached TensorRT engine.

Stages (also the ExportEngine feedback stages): ``export`` (.pt -> ONNX, only when asked),
``precision`` (FP16 / INT8 Q/DQ ONNX, cached by content), ``calibrate`` (INT8 only), ``build``
(TensorRT, cached by the engine cache key) and ``save``. Where TensorRT cannot be used, the
prepared ONNX runs on ONNX Runtime instead, and the result says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.export import export_onnx
from yolo_trt_ros.engine.fingerprint import current_fingerprint
from yolo_trt_ros.engine.precision import (
    calibration_images,
    calibration_sha256,
    convert_fp16,
    quantize_int8,
)
from yolo_trt_ros.engine.spec import DeviceFingerprint, EngineSpec, file_sha256
from yolo_trt_ros.engine.tensorrt_build import EngineBuilder, ProgressCallback, TensorRTBuilder
from yolo_trt_ros.errors import BackendNotAvailableError, InvalidSettingError, ModelNotFoundError

__all__ = ["EngineManager", "ExportRequest", "PreparedModel"]


@dataclass(frozen=True)
class ExportRequest:
    """What the user asked for (the ExportEngine goal, or the detector's parameters)."""

    model: Path
    precision: str = "auto"  # auto: fp16 with TensorRT, the model as it is without
    device: str = "auto"
    image_size: tuple[int, int] | None = None
    batch: int = 1
    dynamic: bool = False
    calibration_dir: Path | None = None
    workspace_mib: int = 0
    optimization_level: int = -1
    force: bool = False
    output_dir: Path | None = None
    backend: str = "auto"  # auto | tensorrt (required) | onnxruntime (never build)


@dataclass(frozen=True)
class PreparedModel:
    """What to load, with which backend, and how it came to be."""

    path: Path
    backend: str
    precision: str
    onnx_path: Path | None
    cache_key: str = ""
    engine_path: str = ""
    build_seconds: float = 0.0
    from_cache: bool = False
    note: str = ""


def _quiet(stage: str, percent: float, message: str) -> None:
    """Progress sink that drops everything."""


def _onnx_metadata(path: Path) -> dict[str, str]:
    import onnx  # noqa: PLC0415 - export-time dependency

    model = onnx.load(str(path), load_external_data=False)
    return {prop.key: prop.value for prop in model.metadata_props}


def _copy_metadata(source: Path, target: Path) -> None:
    """Keep Ultralytics' metadata (class names, size, stride) on converted models."""
    import onnx  # noqa: PLC0415

    metadata = _onnx_metadata(source)
    model = onnx.load(str(target))
    existing = {prop.key for prop in model.metadata_props}
    for key, value in metadata.items():
        if key not in existing:
            model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))


class EngineManager:
    """Prepares models for the detector and the export node, caching every expensive step."""

    def __init__(
        self,
        cache: EngineCache,
        *,
        builder_factory: Callable[[], EngineBuilder] = TensorRTBuilder,
        fingerprint: Callable[[int, str], DeviceFingerprint] = current_fingerprint,
        progress: ProgressCallback = _quiet,
    ) -> None:
        self.cache = cache
        self.builder_factory = builder_factory
        self.fingerprint = fingerprint
        self.progress = progress
        self.prepared_dir = cache.directory / "prepared"

    def prepare(self, request: ExportRequest) -> PreparedModel:
        """Run the stages for a request; return what the detector should load."""
        model = request.model.expanduser()
        if not model.is_file():
            raise ModelNotFoundError(f"model file {model} does not exist")
        if model.suffix.lower() in (".engine", ".plan"):
            # An engine the user names explicitly is loaded as it is (their choice, their file).
            return PreparedModel(
                model,
                "tensorrt",
                request.precision,
                None,
                engine_path=str(model),
                note="engine given explicitly",
            )
        builder = self._builder(request)
        onnx = self._onnx(model, request)
        precision = (
            request.precision if request.precision != "auto" else ("fp16" if builder else "fp32")
        )
        prepared, calibration = self._precision(onnx, precision, request)
        if builder is None:
            note = "TensorRT is not available here: running the prepared ONNX on ONNX Runtime"
            return PreparedModel(
                prepared,
                "onnxruntime",
                precision,
                prepared,
                note=note if request.backend != "onnxruntime" else "",
            )
        return self._engine(builder, prepared, precision, calibration, request)

    def _builder(self, request: ExportRequest) -> EngineBuilder | None:
        if request.backend == "onnxruntime":
            return None
        try:
            return self.builder_factory()
        except BackendNotAvailableError:
            if request.backend == "tensorrt":
                raise
            return None

    def _onnx(self, model: Path, request: ExportRequest) -> Path:
        if model.suffix.lower() == ".onnx":
            return model
        if model.suffix.lower() != ".pt":
            raise InvalidSettingError(f"{model.name}: give a .onnx, .pt or .engine model")
        size = request.image_size or (640, 640)
        target = (
            self.prepared_dir
            / f"{file_sha256(model)[:16]}-{size[0]}x{size[1]}{'-dynamic' if request.dynamic else ''}.onnx"
        )
        if target.is_file() and not request.force:
            return target
        self.progress("export", 5.0, f"exporting {model.name} to ONNX with Ultralytics")
        return export_onnx(model, target, size, dynamic=request.dynamic)

    def _convert_once(
        self,
        source: Path,
        target: Path,
        convert: Callable[[Path], object],
        force: bool,
        progress: tuple[str, float, str],
    ) -> None:
        """Make ``target`` with ``convert`` unless it exists (or ``force``), atomically.

        The conversion writes a partial file, which gets the source's metadata and then moves
        into place.
        """
        if target.is_file() and not force:
            return
        self.progress(*progress)
        partial = target.with_suffix(".partial.onnx")
        convert(partial)
        _copy_metadata(source, partial)
        partial.replace(target)

    def _precision(self, onnx: Path, precision: str, request: ExportRequest) -> tuple[Path, str]:
        """Return the ONNX that carries the precision, and the calibration hash (INT8 only)."""
        if precision == "fp32":
            return onnx, ""
        self.cache.ensure_directory()
        self.prepared_dir.mkdir(parents=True, exist_ok=True)
        digest = file_sha256(onnx)[:16]
        if precision == "fp16":
            target = self.prepared_dir / f"{digest}-fp16.onnx"
            self._convert_once(
                onnx,
                target,
                lambda partial: convert_fp16(onnx, partial),
                request.force,
                (
                    "precision",
                    10.0,
                    f"converting {onnx.name} to FP16 (inputs and outputs stay FP32)",
                ),
            )
            return target, ""
        if precision != "int8":
            raise InvalidSettingError(
                f"precision must be auto, fp32, fp16 or int8, not {precision!r}"
            )
        if request.calibration_dir is None:
            raise InvalidSettingError(
                "int8 needs calibration images: set calibration_dir to a folder of typical frames"
            )
        files = calibration_images(request.calibration_dir)
        calibration = calibration_sha256(files)
        size = request.image_size or (640, 640)
        target = self.prepared_dir / f"{digest}-int8-{calibration[:12]}-{size[0]}x{size[1]}.onnx"
        self._convert_once(
            onnx,
            target,
            lambda partial: quantize_int8(onnx, partial, files, size),
            request.force,
            (
                "calibrate",
                15.0,
                f"calibrating INT8 on {len(files)} image(s) from {request.calibration_dir}",
            ),
        )
        return target, calibration

    def _engine(
        self,
        builder: EngineBuilder,
        onnx: Path,
        precision: str,
        calibration: str,
        request: ExportRequest,
    ) -> PreparedModel:
        device = "cuda:0" if request.device in ("auto", "cuda") else request.device
        spec = EngineSpec(
            model=str(onnx),
            model_sha256=file_sha256(onnx),
            image_size=request.image_size or (640, 640),
            batch=request.batch,
            dynamic=request.dynamic,
            precision=precision,
            device=device,
            workspace_mib=request.workspace_mib,
            optimization_level=request.optimization_level,
            calibration_sha256=calibration,
        )
        fingerprint = self.fingerprint(0 if spec.is_dla else spec.device_index, builder.version())

        def build() -> tuple[bytes, dict[str, Any]]:
            self.progress(
                "build",
                20.0,
                f"building a {precision} TensorRT engine for {device}; the first build can take many minutes",
            )
            engine, timing = builder.build(
                onnx, spec, self.cache.read_timing_cache(fingerprint), self.progress
            )
            if timing:
                self.cache.write_timing_cache(fingerprint, timing)
            return engine, _onnx_metadata(onnx)

        entry = self.cache.get_or_build(
            spec,
            fingerprint,
            build,
            force=request.force,
            on_wait=lambda m: self.progress("build", 20.0, m),
        )
        path = entry.engine_path
        if request.output_dir is not None:
            self.progress("save", 95.0, f"copying the engine to {request.output_dir}")
            request.output_dir.mkdir(parents=True, exist_ok=True)
            path = Path(
                shutil.copy2(entry.engine_path, request.output_dir / entry.engine_path.name)
            )
            shutil.copy2(
                self.cache.sidecar_path(entry.key), request.output_dir / f"{entry.key}.json"
            )
        self.progress(
            "save", 100.0, f"engine {'found in the cache' if entry.from_cache else 'built'}: {path}"
        )
        return PreparedModel(
            path,
            "tensorrt",
            precision,
            onnx,
            entry.key,
            str(path),
            entry.build_seconds,
            entry.from_cache,
        )
