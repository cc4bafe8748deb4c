"""The only module that calls TensorRT's builder: ONNX + spec -> serialized engine, with progress.

Works on TensorRT 8.6 (JetPack 6.0), 10.x and 11.x. The precision route depends on the version
(``precision_route``): below 10.12 the network is weakly typed and precision comes from builder
flags (FP16; INT8 from the ONNX's Q/DQ nodes with the INT8 flag, or below 10, where TensorRT
cannot build YOLO11's Q/DQ, from TensorRT's own calibration: ``int8_calibration``), so the FP32
ONNX is built as it is; from 10.12, where weak typing is deprecated, and on 11, where the flags are gone, the network is
strongly typed and precision lives in the ONNX (the FP16-converted or Q/DQ model).

The build runs in its own process (``build_process``): TensorRT 8.6's builder holds Python's GIL,
which would freeze the caller (a node's executor) for the whole build. Progress: TensorRT 10+
reports phases through ``IProgressMonitor``; 8.6 has none, so the build process also reads
TensorRT's own log (each layer it starts timing), and the calling process reports at least every
``report_every_s`` seconds: elapsed time and TensorRT's latest step. A saved timing cache that
TensorRT refuses is dropped from the build and reported in the result, never a failed build.

Type-checked against ``tensorrt-stubs``; tests replace the ``TensorRTBuilder`` adapter as a whole
where TensorRT is not installed (they say so).
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from yolo_trt_ros.engine.build_process import ProgressCallback, run_in_build_process
from yolo_trt_ros.engine.int8_calibration import Calibration, Calibrator, keep_convs_in_fp16
from yolo_trt_ros.engine.spec import EngineSpec
from yolo_trt_ros.errors import BackendNotAvailableError, InvalidSettingError, ModelLoadError

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = [
    "BuildOutput",
    "Calibration",
    "EngineBuilder",
    "ProgressCallback",
    "TensorRTBuilder",
    "import_tensorrt",
    "precision_route",
]

BUILDER_FLAGS: Final = "builder flags"  # weak typing: FP32 (or Q/DQ) ONNX + FP16/INT8 flags
TYPED_ONNX: Final = "typed onnx"  # strong typing: the precision is in the ONNX
INT8_QDQ: Final = "q/dq onnx"  # INT8 from the ONNX's Q/DQ nodes
INT8_CALIBRATION: Final = "tensorrt calibration"  # INT8 from TensorRT's calibrator (before 10)
_QDQ_FROM: Final = (10,)  # TensorRT 8.6 fails to build YOLO11's Q/DQ ONNX
_STRONG_TYPING_FROM: Final = (10, 12)  # weak typing deprecated from here (removed in 11)
_FORWARD_S: Final = 1.0  # most one progress message a second from the build process
_LAYER_TIMING = re.compile(r"(?:Computing costs for|Autotuning.*?format combination.*?for)\s+(\S+)")


@dataclass(frozen=True)
class BuildOutput:
    """A built engine and what the build learnt.

    The updated timing cache, why a saved timing cache was refused (if it was), and the INT8
    calibration table TensorRT wrote (calibrated INT8 only).
    """

    engine: bytes
    timing_cache: bytes | None = None
    timing_cache_refused: str = ""
    calibration_table: bytes | None = None


class EngineBuilder(Protocol):
    """The narrow adapter the engine manager talks to (TensorRT here, a stand-in in tests)."""

    def version(self) -> str:
        """Return the TensorRT version the engines will be tied to."""

    def precision_route(self, dla: bool) -> str:
        """BUILDER_FLAGS or TYPED_ONNX: where this TensorRT takes the precision from (GPU or DLA)."""

    def int8_route(self) -> str:
        """INT8_QDQ or INT8_CALIBRATION: how this TensorRT builds INT8."""

    def build(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
        calibration: Calibration | None = None,
    ) -> BuildOutput:
        """Build an engine from the ONNX for the spec (``calibration``: INT8_CALIBRATION's images)."""


def import_tensorrt() -> Any:
    """Import the real TensorRT module, or raise BackendNotAvailableError saying what to install."""
    try:
        module = importlib.import_module("tensorrt")
    except ImportError as error:
        raise BackendNotAvailableError(
            f"TensorRT is not installed ({error}): it comes with JetPack on Jetson, and from NVIDIA for x86 GPUs"
        ) from None
    if not hasattr(module, "Builder"):  # e.g. only the type stubs, or a placeholder wheel
        raise BackendNotAvailableError(
            "the tensorrt module here has no Builder: install the real TensorRT, not a stub"
        )
    return module


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


def int8_route(trt_module: Any) -> str:
    """Q/DQ ONNX from TensorRT 10; TensorRT's own calibration before (8.6 cannot build the Q/DQ)."""
    old = _version_tuple(str(trt_module.__version__)) < _QDQ_FROM
    return INT8_CALIBRATION if old else INT8_QDQ


def precision_route(trt_module: Any, dla: bool) -> str:
    """Choose weak typing (builder flags) or strong typing (typed ONNX) for this TensorRT and target."""
    has_flags = hasattr(trt_module.BuilderFlag, "FP16")
    has_strong = hasattr(trt_module.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    if not has_strong:
        return BUILDER_FLAGS  # TensorRT 8.6 and older 10.x
    if not has_flags:
        return TYPED_ONNX  # TensorRT 11: the flags are gone
    if dla:
        return BUILDER_FLAGS  # DLA needs its precision by flag on TensorRT 10
    old = _version_tuple(str(trt_module.__version__)) < _STRONG_TYPING_FROM
    return BUILDER_FLAGS if old else TYPED_ONNX


class _BuildReporter:
    """The ILogger handed to TensorRT in the build process: TensorRT's steps become progress.

    Warnings and errors go to stderr as TensorRT's own logger prints them; the rest only feeds
    the progress, passed on at most every ``_FORWARD_S`` seconds (the caller adds the clock).
    """

    def __init__(self, trt_module: Any, progress: ProgressCallback) -> None:
        self._progress = progress
        self.layers = 0  # set once the network is parsed
        self._last_forward = 0.0
        self._timed: set[str] = set()
        self.timing_cache_errors: list[str] = []
        self._warning = int(trt_module.ILogger.Severity.WARNING)
        self._info = int(trt_module.ILogger.Severity.INFO)
        reporter = self

        class Logger(trt_module.ILogger):  # type: ignore[misc]
            def __init__(self) -> None:
                trt_module.ILogger.__init__(self)

            def log(self, severity: Any, msg: str) -> None:
                reporter.log(severity, msg)

        self.logger = Logger()

    def log(self, severity: Any, msg: str) -> None:
        """Take one TensorRT log line."""
        level, text = int(severity), msg.strip()
        if level <= self._warning:  # lower values are more severe
            print(f"[TensorRT] {text}", file=sys.stderr, flush=True)
            if "timing cache" in text.lower() or "myelincache" in text.lower():
                self.timing_cache_errors.append(text)
        match = _LAYER_TIMING.search(text)
        if match:
            self._timed.add(match.group(1))
            latest = f"timing {match.group(1)}"
        elif level <= self._info and text:
            latest = text.splitlines()[0][:120]
        else:
            return
        now = time.monotonic()
        if now - self._last_forward >= _FORWARD_S:
            self._last_forward = now
            percent = min(95.0, 100.0 * len(self._timed) / max(self.layers, 1))
            if self._timed and self.layers:  # low optimisation levels time no layers at all
                latest = f"{len(self._timed)} of ~{self.layers} layers timed; {latest}"
            self._progress("build", percent, latest)


def _progress_monitor(trt_module: Any, progress: ProgressCallback) -> Any:
    """Make a TensorRT IProgressMonitor (10+) that reports each top-level phase as stage/percent lines."""

    class Monitor(trt_module.IProgressMonitor):  # type: ignore[misc]
        def __init__(self) -> None:
            trt_module.IProgressMonitor.__init__(self)
            self.phases: dict[str, tuple[int, str | None]] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.phases[phase_name] = (max(num_steps, 1), parent_phase)
            if parent_phase is None:
                progress("build", 0.0, f"{phase_name}: started ({num_steps} steps)")

        def step_complete(self, phase_name: str, step: int) -> bool:
            steps, parent = self.phases.get(phase_name, (1, None))
            if parent is None:
                percent = 100.0 * (step + 1) / steps
                progress("build", percent, f"{phase_name}: step {step + 1} of {steps}")
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            _, parent = self.phases.pop(phase_name, (1, None))
            if parent is None:
                progress("build", 100.0, f"{phase_name}: done")

    return Monitor()


class TensorRTBuilder:
    """Builds engines with the installed TensorRT."""

    def __init__(self, report_every_s: float = 10.0, cancel: threading.Event | None = None) -> None:
        self.trt = import_tensorrt()
        self.report_every_s = report_every_s
        self.cancel = cancel  # set it to end a running build (the node does on cleanup)

    def version(self) -> str:
        """Return the installed TensorRT version."""
        return str(self.trt.__version__)

    def precision_route(self, dla: bool) -> str:
        """Where this TensorRT takes the precision from, for a GPU or DLA target."""
        return precision_route(self.trt, dla)

    def int8_route(self) -> str:
        """How this TensorRT builds INT8 (``int8_route``)."""
        return int8_route(self.trt)

    def _network_flags(self, spec: EngineSpec) -> int:
        flags = self.trt.NetworkDefinitionCreationFlag
        bits = 0
        if hasattr(flags, "EXPLICIT_BATCH"):  # required on 8.6, a no-op in 10, gone later
            bits |= 1 << int(flags.EXPLICIT_BATCH)
        if self.precision_route(spec.is_dla) == TYPED_ONNX:
            bits |= 1 << int(flags.STRONGLY_TYPED)
        return bits

    def _configure(
        self, builder: trt.Builder, network: trt.INetworkDefinition, spec: EngineSpec
    ) -> trt.IBuilderConfig:
        config = builder.create_builder_config()
        if spec.workspace_mib:
            config.set_memory_pool_limit(
                self.trt.MemoryPoolType.WORKSPACE, spec.workspace_mib << 20
            )
        if spec.optimization_level >= 0:
            config.builder_optimization_level = spec.optimization_level
        if self.precision_route(spec.is_dla) == BUILDER_FLAGS:
            wanted = {"fp16": ["FP16"], "int8": ["INT8", "FP16"]}.get(spec.precision, [])
            for name in wanted:
                config.set_flag(getattr(self.trt.BuilderFlag, name))
        if spec.is_dla:
            config.default_device_type = self.trt.DeviceType.DLA
            config.DLA_core = spec.device_index
            if spec.gpu_fallback:
                config.set_flag(self.trt.BuilderFlag.GPU_FALLBACK)
        image = network.get_input(0)
        height, width = spec.image_size
        if spec.dynamic or any(image.shape[i] < 0 for i in range(len(image.shape))):
            profile = builder.create_optimization_profile()
            largest = self.trt.Dims([spec.batch, 3, height, width])
            smallest = self.trt.Dims([1, 3, 32, 32] if spec.dynamic else [1, 3, height, width])
            profile.set_shape(image.name, smallest, largest, largest)
            config.add_optimization_profile(profile)
            if spec.precision == "int8" and self.int8_route() == INT8_CALIBRATION:
                config.set_calibration_profile(profile)  # at the largest shape (gone in 11)
        return config

    def _timing_cache(self, config: trt.IBuilderConfig, saved: bytes | None) -> str:
        """Attach the saved timing cache, or an empty one; return why the saved one was refused."""
        refused = ""
        cache = None
        if saved:
            try:
                cache = config.create_timing_cache(saved)
            except Exception as error:  # noqa: BLE001 - TensorRT raises various types here
                refused = f"TensorRT cannot read it ({error})"
            if cache is None and not refused:
                refused = "TensorRT cannot read it"
        if cache is None:
            cache = config.create_timing_cache(b"")
        if not config.set_timing_cache(cache, ignore_mismatch=False) and saved and not refused:
            refused = "it was made for another device or TensorRT"
            config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
        return refused

    def build(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
        calibration: Calibration | None = None,
    ) -> BuildOutput:
        """Build in a separate process (see the module docstring); return the plan."""
        output: BuildOutput = run_in_build_process(
            _build_in_this_process,
            (onnx_path, spec, timing_cache, calibration),
            progress,
            every_s=self.report_every_s,
            cancel=self.cancel,
        )
        return output

    def build_here(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
        calibration: Calibration | None = None,
    ) -> BuildOutput:
        """Parse the ONNX, configure for the spec and build, in this process."""
        reporter = _BuildReporter(self.trt, progress)
        builder: trt.Builder = self.trt.Builder(reporter.logger)
        network: trt.INetworkDefinition = builder.create_network(self._network_flags(spec))
        parser: trt.OnnxParser = self.trt.OnnxParser(network, reporter.logger)
        progress("build", 0.0, f"parsing {onnx_path.name}")
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelLoadError(f"TensorRT cannot parse {onnx_path}: {errors}")
        reporter.layers = network.num_layers
        config = self._configure(builder, network, spec)
        refused = self._timing_cache(config, timing_cache)
        if refused:
            progress("build", 0.0, f"the saved timing cache is set aside: {refused}")
        level = spec.optimization_level if spec.optimization_level >= 0 else "default"
        progress(
            "build",
            0.0,
            f"TensorRT {self.version()}: {spec.precision} by {self.precision_route(spec.is_dla)}, "
            f"optimisation level {level}, {network.num_layers} layers",
        )
        if hasattr(config, "progress_monitor"):
            config.progress_monitor = _progress_monitor(self.trt, progress)
        calibrator = self._calibrate(
            network, config, onnx_path, spec, calibration=calibration, progress=progress
        )
        try:
            plan: trt.IHostMemory | None = builder.build_serialized_network(network, config)
            if calibrator is not None:
                calibrator.raise_if_failed()
        finally:
            if calibrator is not None:
                calibrator.close()
        if plan is None:
            raise ModelLoadError(
                f"TensorRT could not build an engine from {onnx_path} for {spec.device} ({spec.precision}); "
                "see the TensorRT log above"
            )
        if not refused and timing_cache and reporter.timing_cache_errors:
            refused = f"TensorRT did not use it ({reporter.timing_cache_errors[0]})"
        updated: trt.ITimingCache = config.get_timing_cache()
        return BuildOutput(
            bytes(memoryview(plan)),
            bytes(memoryview(updated.serialize())),
            refused,
            calibrator.table if calibrator is not None else None,
        )

    def _calibrate(
        self,
        network: trt.INetworkDefinition,
        config: trt.IBuilderConfig,
        onnx_path: Path,
        spec: EngineSpec,
        *,
        calibration: Calibration | None,
        progress: ProgressCallback,
    ) -> Calibrator | None:
        """Set up TensorRT's INT8 calibration where this build needs it; return its calibrator."""
        if spec.precision != "int8" or self.int8_route() != INT8_CALIBRATION:
            return None
        if calibration is None or not calibration.files:
            raise InvalidSettingError(
                "int8 needs calibration images: set calibration_dir to a folder of typical frames"
            )
        kept = keep_convs_in_fp16(self.trt, network, onnx_path)
        config.set_flag(self.trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
        height, width = spec.image_size
        calibrator = Calibrator(
            calibration,
            (spec.batch, 3, height, width),
            0 if spec.is_dla else spec.device_index,  # a DLA reads GPU 0's memory
            progress,
        )
        config.int8_calibrator = calibrator.make(self.trt, calibration.method)
        how = (
            "reusing the calibration table of an earlier build"
            if calibration.table
            else f"calibrating on {len(calibration.files)} image(s)"
        )
        progress("build", 0.0, f"INT8 by TensorRT calibration: {how}; {kept} Convs kept in FP16")
        return calibrator


def _build_in_this_process(
    onnx_path: Path,
    spec: EngineSpec,
    timing_cache: bytes | None,
    calibration: Calibration | None,
    report: ProgressCallback,
) -> BuildOutput:
    """Build in the build process (its entry point: a module-level function, importable by name)."""
    return TensorRTBuilder().build_here(onnx_path, spec, timing_cache, report, calibration)
