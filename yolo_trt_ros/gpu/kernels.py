"""The package's CUDA C kernels, compiled at run time with NVRTC once per process and device arch.

The sources are ``*.cu`` files beside this module. ``load_module(device, "letterbox.cu")`` compiles
a source for the device's compute capability (a cubin when this NVRTC knows the architecture, PTX
for the newest older one otherwise, which the driver finishes), caches the compiled code per
(source, architecture, options), and the loaded module per context, for the life of the process.
``Kernel`` launches one of the module's functions with pre-packed arguments, so a launch from
Python costs one driver call and no argument marshalling.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from cuda.bindings import driver as cu
from cuda.bindings import nvrtc

from yolo_trt_ros.cuda.runtime import CudaDevice, CudaStream, check
from yolo_trt_ros.errors import CudaError

__all__ = [
    "COMPILE_OPTIONS",
    "CompiledCode",
    "Kernel",
    "KernelModule",
    "compile_source",
    "kernel_source",
    "load_module",
]

# --fmad=false: no fused multiply-add, so box and IoU arithmetic rounds like the NumPy decoder's.
COMPILE_OPTIONS: Final = ("-std=c++17", "--fmad=false")

# Kernel argument kinds and the C types they are passed as.
_ARG_TYPES: Final[dict[str, Any]] = {
    "ptr": ctypes.c_uint64,
    "i32": ctypes.c_int32,
    "i64": ctypes.c_int64,
    "f32": ctypes.c_float,
}


def kernel_source(name: str) -> str:
    """Return the CUDA C source of one of the package's kernel files (e.g. "letterbox.cu")."""
    return resources.files("yolo_trt_ros.gpu").joinpath(name).read_text(encoding="utf-8")


def _nvrtc_check(result: tuple[Any, ...], what: str) -> Any:
    status = result[0]
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        _, text = nvrtc.nvrtcGetErrorString(status)
        raise CudaError(f"NVRTC {what} failed: {(text or b'?').decode()}")
    return result[1] if len(result) == 2 else result[1:]


@dataclass(frozen=True)
class CompiledCode:
    """NVRTC output: a cubin (``kind`` "cubin") or PTX for the driver to finish (``kind`` "ptx")."""

    image: bytes
    kind: str
    target: str
    log: str


def _target_for(compute_capability: tuple[int, int]) -> tuple[str, str]:
    wanted = compute_capability[0] * 10 + compute_capability[1]
    supported = list(_nvrtc_check(nvrtc.nvrtcGetSupportedArchs(), "architecture query"))
    if wanted in supported:
        return f"sm_{wanted}", "cubin"
    older = [arch for arch in supported if arch <= wanted]
    if not older:
        major, minor = _nvrtc_check(nvrtc.nvrtcVersion(), "version query")
        raise CudaError(
            f"NVRTC {major}.{minor} cannot compile for compute capability {compute_capability}: "
            "install the nvidia-cuda-nvrtc that matches this GPU's CUDA version"
        )
    return f"compute_{max(older)}", "ptx"


@functools.cache
def compile_source(
    source: str, name: str, compute_capability: tuple[int, int], options: tuple[str, ...]
) -> CompiledCode:
    """Compile CUDA C for a compute capability (cached: once per process per arguments)."""
    target, kind = _target_for(compute_capability)
    program = _nvrtc_check(
        nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], []), "program creation"
    )
    try:
        arguments = [f"--gpu-architecture={target}".encode(), *(o.encode() for o in options)]
        (status,) = nvrtc.nvrtcCompileProgram(program, len(arguments), arguments)
        log_size = _nvrtc_check(nvrtc.nvrtcGetProgramLogSize(program), "log query")
        log_buffer = b" " * log_size
        _nvrtc_check(nvrtc.nvrtcGetProgramLog(program, log_buffer), "log query")
        log = log_buffer.rstrip(b"\0 ").decode(errors="replace")
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise CudaError(f"NVRTC could not compile {name} for {target}:\n{log}")
        if kind == "cubin":
            size = _nvrtc_check(nvrtc.nvrtcGetCUBINSize(program), "cubin size")
            image = b" " * size
            _nvrtc_check(nvrtc.nvrtcGetCUBIN(program, image), "cubin")
        else:
            size = _nvrtc_check(nvrtc.nvrtcGetPTXSize(program), "PTX size")
            image = b" " * size
            _nvrtc_check(nvrtc.nvrtcGetPTX(program, image), "PTX")
    finally:
        nvrtc.nvrtcDestroyProgram(program)
    return CompiledCode(image, kind, target, log)


class KernelModule:
    """A compiled kernel file loaded into a device's primary context (kept for the process)."""

    def __init__(self, device: CudaDevice, source_name: str, code: CompiledCode) -> None:
        device.make_current()
        image = code.image if code.kind == "cubin" else code.image.rstrip(b"\0") + b"\0"
        self.handle = check(cu.cuModuleLoadData(image))
        self.device = device
        self.source_name = source_name
        self.code = code

    def function(self, name: str) -> Any:
        """Return the CUfunction of one ``extern "C"`` kernel."""
        try:
            return check(cu.cuModuleGetFunction(self.handle, name.encode()))
        except CudaError as error:
            raise CudaError(f"{self.source_name} has no kernel {name!r}: {error}") from None


_modules: dict[tuple[int, str, tuple[str, ...]], KernelModule] = {}
_modules_lock = threading.Lock()


def load_module(
    device: CudaDevice, source_name: str, options: Sequence[str] = COMPILE_OPTIONS
) -> KernelModule:
    """Compile (once per process) and load (once per context) one of the package's kernel files."""
    key = (int(device.context), source_name, tuple(options))
    with _modules_lock:
        module = _modules.get(key)
        if module is None:
            source = kernel_source(source_name)
            code = compile_source(source, source_name, device.compute_capability, tuple(options))
            module = KernelModule(device, source_name, code)
            _modules[key] = module
        return module


def source_digest(source_name: str) -> str:
    """Short hash of a kernel file, to tell which kernel version produced a measurement."""
    return hashlib.sha256(kernel_source(source_name).encode()).hexdigest()[:12]


class Kernel:
    """One kernel with its argument kinds, launched with arguments packed once into C storage.

    Not thread-safe: each pipeline makes its own ``Kernel`` objects (they share the module).
    """

    def __init__(self, module: KernelModule, name: str, argument_kinds: Sequence[str]) -> None:
        self.name = name
        self.function = module.function(name)
        try:
            self._values = [_ARG_TYPES[kind]() for kind in argument_kinds]
        except KeyError as error:
            raise CudaError(
                f"unknown kernel argument kind {error}; use {', '.join(_ARG_TYPES)}"
            ) from None
        self._pointers = (ctypes.c_void_p * len(self._values))(
            *(ctypes.addressof(value) for value in self._values)
        )
        self._pointers_address = ctypes.addressof(self._pointers)
        self._last: tuple[float, ...] = ()

    def launch(
        self,
        grid: tuple[int, int, int],
        block: tuple[int, int, int],
        stream: CudaStream,
        *arguments: float,
    ) -> None:
        """Queue the kernel on a stream with these arguments (ints, floats, device pointers)."""
        if len(arguments) != len(self._values):
            raise CudaError(
                f"kernel {self.name} takes {len(self._values)} arguments, got {len(arguments)}"
            )
        if arguments != self._last:  # a steady stream of frames repeats the same arguments
            for slot, value in zip(self._values, arguments, strict=True):
                slot.value = value
            self._last = arguments
        check(
            cu.cuLaunchKernel(
                self.function, *grid, *block, 0, stream.handle, self._pointers_address, 0
            )
        )
