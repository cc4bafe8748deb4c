"""From a user's model to what the detector loads: export, precision, then a cached TensorRT engine.

Stages (also the ExportEngine feedback stages): ``export`` (.pt -> ONNX, only when asked),
``precision`` (FP16 / INT8 Q/DQ ONNX, cached by content), ``calibrate`` (INT8 only), ``build``
(TensorRT, cached by the engine cache key) and ``save``. Where TensorRT cannot be used, the
prepared ONNX runs on ONNX Runtime instead, and the result says so.

The FP16 ONNX conversion is made only where TensorRT takes precision from the ONNX (strong typing,
TensorRT >= 10.12); older TensorRT builds the FP32 ONNX with its FP16 flag (``precision_route``).

A first build at TensorRT's default optimisation level can take many minutes (YOLO11n FP16 on
TensorRT 8.6: over 8). With ``quick_first`` the manager builds at ``QUICK_OPTIMIZATION_LEVEL``
when the fully optimised engine is not cached yet, and ``PreparedModel.follow_up`` holds the
request for the full build, which the caller may run later (the node does, in the background).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from yolo_trt_ros.engine import int8_calibration
from yolo_trt_ros.engine.build_process import refuse_while_importing_main
from yolo_trt_ros.engine.cache import CachedEngine, EngineCache
from yolo_trt_ros.engine.export import export_onnx
from yolo_trt_ros.engine.fingerprint import current_fingerprint
from yolo_trt_ros.engine.precision import (
    calibration_images,
    calibration_sha256,
    convert_fp16,
    import_onnx,
    quantize_int8,
)
from yolo_trt_ros.engine.spec import DeviceFingerprint, EngineSpec, file_sha256
from yolo_trt_ros.engine.tensorrt_build import (
    INT8_CALIBRATION,
    TYPED_ONNX,
    Calibration,
    EngineBuilder,
    ProgressCallback,
    TensorRTBuilder,
)
from yolo_trt_ros.errors import BackendNotAvailableError, InvalidSettingError, ModelNotFoundError

__all__ = ["QUICK_OPTIMIZATION_LEVEL", "EngineManager", "ExportRequest", "PreparedModel"]

QUICK_OPTIMIZATION_LEVEL: Final = 0  # TensorRT's fastest build: the first tactic that works


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
    quick_first: bool = (
        False  # build at QUICK_OPTIMIZATION_LEVEL first if the full engine is not cached
    )


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
    optimization_level: int = -1  # of the engine built or found (-1: TensorRT's default)
    follow_up: ExportRequest | None = None  # the full build still to run after a quick one


def _quiet(stage: str, percent: float, message: str) -> None:
    """Progress sink that drops everything."""


def _onnx_metadata(path: Path) -> dict[str, str]:
    onnx = import_onnx()
    model = onnx.load(str(path), load_external_data=False)
    return {prop.key: prop.value for prop in model.metadata_props}


def _copy_metadata(source: Path, target: Path) -> None:
    """Keep Ultralytics' metadata (class names, size, stride) on converted models."""
    onnx = import_onnx()
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
        refuse_while_importing_main()
        model = request.model.expanduser()
        if not model.is_file():
            if model.is_dir():
                what = "is a folder, not a model file"
            elif model.exists():
                what = "is not a regular file (a device, pipe or socket?)"
            else:
                what = "does not exist"
            raise ModelNotFoundError(f"model file {model} {what}")
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
        typed = (
            builder is None
            or builder.precision_route(request.device.startswith("dla")) == TYPED_ONNX
        )
        calibrated = builder is not None and builder.int8_route() == INT8_CALIBRATION
        prepared, calibration = self._precision(
            onnx, precision, request, convert_fp16_onnx=typed, int8_by_tensorrt=calibrated
        )
        if builder is None:
            return PreparedModel(
                prepared,
                "onnxruntime",
                precision,
                prepared,
                note=self._without_engine(prepared, request),
            )
        return self._engine(builder, prepared, precision, calibration, request)

    def _without_engine(self, prepared: Path, request: ExportRequest) -> str:
        """Say what a request gets without TensorRT; copy the prepared ONNX to ``output_dir``.

        There is no engine to copy, and a device for one is not used: both are said in the note.
        """
        notes = []
        if request.backend != "onnxruntime":
            notes.append(
                "TensorRT is not available here: running the prepared ONNX on ONNX Runtime"
            )
        if request.device not in ("auto", "cpu", "cuda"):
            notes.append(f"device {request.device} is for a TensorRT engine, and none is built")
        if request.output_dir is not None:
            self.progress("save", 95.0, f"no engine without TensorRT: copying {prepared.name}")
            request.output_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(prepared, request.output_dir / prepared.name)
            notes.append(f"output_dir has the prepared ONNX {prepared.name}, not an engine")
        return "; ".join(notes)

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

    def _precision(
        self,
        onnx: Path,
        precision: str,
        request: ExportRequest,
        *,
        convert_fp16_onnx: bool,
        int8_by_tensorrt: bool = False,
    ) -> tuple[Path, str]:
        """Return the ONNX that carries the precision, and the calibration hash (INT8 only).

        ``int8_by_tensorrt``: TensorRT calibrates the FP32 ONNX itself (INT8_CALIBRATION).
        """
        if precision == "fp32" or (precision == "fp16" and not convert_fp16_onnx):
            return onnx, ""
        if precision == "fp16":
            target = self._prepared_path(onnx, "fp16")
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
        if int8_by_tensorrt:  # TensorRT calibrates the FP32 ONNX: nothing to write here
            method = int8_calibration.DEFAULT_METHOD  # the build gets it in Calibration.method
            return onnx, calibration_sha256(files, f"tensorrt {method}")
        calibration = calibration_sha256(files)
        size = request.image_size or (640, 640)
        target = self._prepared_path(onnx, f"int8-{calibration[:12]}-{size[0]}x{size[1]}")
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

    def _prepared_path(self, onnx: Path, variant: str) -> Path:
        """Where the ``variant`` of this ONNX (named by its content) is kept; its folder exists."""
        self.cache.ensure_directory()
        self.prepared_dir.mkdir(parents=True, exist_ok=True)
        return self.prepared_dir / f"{file_sha256(onnx)[:16]}-{variant}.onnx"

    def _spec(
        self, onnx: Path, precision: str, calibration: str, request: ExportRequest
    ) -> EngineSpec:
        """Describe the engine a request asks for."""
        return EngineSpec(
            model=str(onnx),
            model_sha256=file_sha256(onnx),
            image_size=request.image_size or (640, 640),
            batch=request.batch,
            dynamic=request.dynamic,
            precision=precision,
            device="cuda:0" if request.device in ("auto", "cuda") else request.device,
            workspace_mib=request.workspace_mib,
            optimization_level=request.optimization_level,
            calibration_sha256=calibration,
        )

    def _engine(
        self,
        builder: EngineBuilder,
        onnx: Path,
        precision: str,
        calibration: str,
        request: ExportRequest,
    ) -> PreparedModel:
        spec = self._spec(onnx, precision, calibration, request)
        fingerprint = self.fingerprint(0 if spec.is_dla else spec.device_index, builder.version())
        follow_up = None
        wants_quick_first = (
            request.quick_first
            and spec.optimization_level != QUICK_OPTIMIZATION_LEVEL
            and not request.force
        )
        # looked up once: the lookup hashes the whole engine file
        entry = self.cache.lookup(spec, fingerprint) if wants_quick_first else None
        if wants_quick_first and entry is None:
            follow_up = replace(request, quick_first=False)
            spec = replace(spec, optimization_level=QUICK_OPTIMIZATION_LEVEL)
            self.progress(
                "build",
                20.0,
                f"no optimised {precision} engine is cached: building a quick one first "
                f"(optimisation level {QUICK_OPTIMIZATION_LEVEL}); the optimised build can follow",
            )
        if entry is None:
            entry = self._get_or_build(
                builder,
                onnx,
                spec,
                fingerprint,
                request.force,
                calibration_dir=request.calibration_dir,
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
            optimization_level=spec.optimization_level,
            follow_up=follow_up,
        )

    def _calibration(
        self,
        builder: EngineBuilder,
        spec: EngineSpec,
        fingerprint: DeviceFingerprint,
        calibration_dir: Path | None,
        *,
        force: bool = False,
    ) -> Calibration | None:
        """Return the images (and any saved table) of an INT8 build TensorRT calibrates, else None."""
        if spec.precision != "int8" or builder.int8_route() != INT8_CALIBRATION:
            return None
        if calibration_dir is None:
            raise InvalidSettingError(
                "int8 needs calibration images: set calibration_dir to a folder of typical frames"
            )
        files = tuple(calibration_images(calibration_dir))
        # force: calibrate again, even where a table of the same images exists
        table = None if force else self.cache.read_calibration_table(spec, fingerprint)
        return Calibration(files, table, int8_calibration.DEFAULT_METHOD)

    def _get_or_build(
        self,
        builder: EngineBuilder,
        onnx: Path,
        spec: EngineSpec,
        fingerprint: DeviceFingerprint,
        force: bool,
        *,
        calibration_dir: Path | None = None,
    ) -> CachedEngine:
        """Return the cached engine for the spec, or build it (with this precision's timing cache)."""
        # TensorRT 8.6 refuses a timing cache of another precision or optimisation level (Myelin)
        scope = f"{spec.precision}-level{spec.optimization_level}"

        def build() -> tuple[bytes, dict[str, Any]]:
            level = spec.optimization_level if spec.optimization_level >= 0 else "default"
            self.progress(
                "build",
                20.0,
                f"building a {spec.precision} TensorRT engine for {spec.device} at optimisation "
                f"level {level}; progress follows at least every 10 s",
            )
            calibration = self._calibration(
                builder, spec, fingerprint, calibration_dir, force=force
            )
            output = builder.build(
                onnx,
                spec,
                self.cache.read_timing_cache(fingerprint, scope),
                self.progress,
                calibration,
            )
            if calibration is not None and output.calibration_table:
                self.cache.write_calibration_table(spec, fingerprint, output.calibration_table)
            if output.timing_cache_refused:
                aside = self.cache.set_timing_cache_aside(fingerprint, scope)
                self.progress(
                    "build",
                    90.0,
                    f"timing cache set aside ({output.timing_cache_refused}): {aside}",
                )
            if output.timing_cache:
                self.cache.write_timing_cache(fingerprint, output.timing_cache, scope)
            return output.engine, _onnx_metadata(onnx)

        return self.cache.get_or_build(
            spec,
            fingerprint,
            build,
            force=force,
            on_wait=lambda m: self.progress("build", 20.0, m),
        )
