"""The only module that calls TensorRT's builder: ONNX + spec -> serialized engine, with progress.

Works on TensorRT 10.x and 11.x (DESIGN.md §2.4): the network is strongly typed wherever the flag
exists and the target allows it, so precision comes from the ONNX (FP16 conversion or Q/DQ). The
weakly typed FP16/INT8 builder flags are used only for DLA on TensorRT 10, and only if the
installed TensorRT still has them. The timing cache is loaded and saved around every build.

Type-checked against ``tensorrt-stubs``; it cannot run on machines without TensorRT, and tests
replace the ``TensorRTBuilder`` adapter as a whole (they say so).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from yolo_trt_ros.engine.spec import EngineSpec
from yolo_trt_ros.errors import BackendNotAvailableError, ModelLoadError

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = [
    "EngineBuilder",
    "ProgressCallback",
    "TensorRTBuilder",
    "import_tensorrt",
]

ProgressCallback = Callable[[str, float, str], None]  # stage, percent 0..100, message


class EngineBuilder(Protocol):
    """The narrow adapter the engine manager talks to (TensorRT here, a stand-in in tests)."""

    def version(self) -> str:
        """Return the TensorRT version the engines will be tied to."""

    def build(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
    ) -> tuple[bytes, bytes | None]:
        """Build an engine; return (serialized engine, updated timing cache)."""


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


def _progress_monitor(trt_module: Any, progress: ProgressCallback) -> Any:
    """Make a TensorRT IProgressMonitor that reports each phase's steps as stage/percent lines."""

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

    def __init__(self) -> None:
        self.trt = import_tensorrt()
        self.logger = self.trt.Logger(self.trt.Logger.WARNING)

    def version(self) -> str:
        """Return the installed TensorRT version."""
        return str(self.trt.__version__)

    def _network_flags(self, spec: EngineSpec) -> tuple[int, bool]:
        flags = self.trt.NetworkDefinitionCreationFlag
        strongly_typed = hasattr(flags, "STRONGLY_TYPED") and not (
            spec.is_dla and hasattr(self.trt.BuilderFlag, "FP16")
        )
        bits = 0
        if hasattr(flags, "EXPLICIT_BATCH"):  # deprecated no-op in TensorRT 10, gone later
            bits |= 1 << int(flags.EXPLICIT_BATCH)
        if strongly_typed:
            bits |= 1 << int(flags.STRONGLY_TYPED)
        return bits, strongly_typed

    def _configure(
        self,
        builder: trt.Builder,
        network: trt.INetworkDefinition,
        spec: EngineSpec,
        strongly_typed: bool,
    ) -> trt.IBuilderConfig:
        config = builder.create_builder_config()
        if spec.workspace_mib:
            config.set_memory_pool_limit(
                self.trt.MemoryPoolType.WORKSPACE, spec.workspace_mib << 20
            )
        if spec.optimization_level >= 0:
            config.builder_optimization_level = spec.optimization_level
        if not strongly_typed:  # weak typing (DLA on TensorRT 10): precision by builder flag
            wanted = {"fp16": ["FP16"], "int8": ["INT8", "FP16"]}.get(spec.precision, [])
            for name in wanted:
                if hasattr(self.trt.BuilderFlag, name):
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
        return config

    def build(
        self,
        onnx_path: Path,
        spec: EngineSpec,
        timing_cache: bytes | None,
        progress: ProgressCallback,
    ) -> tuple[bytes, bytes | None]:
        """Parse the ONNX, configure for the spec, build with a progress monitor; return the plan."""
        builder: trt.Builder = self.trt.Builder(self.logger)
        flags, strongly_typed = self._network_flags(spec)
        network: trt.INetworkDefinition = builder.create_network(flags)
        parser: trt.OnnxParser = self.trt.OnnxParser(network, self.logger)
        progress("build", 0.0, f"parsing {onnx_path.name}")
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelLoadError(f"TensorRT cannot parse {onnx_path}: {errors}")
        config = self._configure(builder, network, spec, strongly_typed)
        cache: trt.ITimingCache = config.create_timing_cache(timing_cache or b"")
        config.set_timing_cache(cache, ignore_mismatch=False)
        if hasattr(config, "progress_monitor"):
            config.progress_monitor = _progress_monitor(self.trt, progress)
        plan: trt.IHostMemory | None = builder.build_serialized_network(network, config)
        if plan is None:
            raise ModelLoadError(
                f"TensorRT could not build an engine from {onnx_path} for {spec.device} ({spec.precision}); "
                "see the TensorRT log above"
            )
        updated: trt.ITimingCache = config.get_timing_cache()
        return bytes(memoryview(plan)), bytes(memoryview(updated.serialize()))
