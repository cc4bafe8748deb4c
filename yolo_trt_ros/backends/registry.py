"""Which backend loads which model file: a table keyed on backend name and file suffix.

Entries name their module as a string, so listing or choosing backends imports no runtime: a
machine without TensorRT never imports it. Adding a backend is adding one ``BackendEntry``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolo_trt_ros.backends.base import Backend
from yolo_trt_ros.errors import BackendNotAvailableError, ModelNotFoundError

__all__ = ["BACKENDS", "BackendEntry", "available_backends", "load_backend", "resolve_backend"]


@dataclass(frozen=True)
class BackendEntry:
    """A backend: its implementation, the files it loads, and the Python module it needs.

    ``usable`` ("module:function", optional) names a check that ``auto`` runs before choosing an
    installed backend, e.g. whether a GPU exists; it takes the model path and returns a bool, and
    its module is imported only then, never when the registry is imported or listed.
    """

    name: str
    implementation: str  # "module:Class"
    suffixes: tuple[str, ...]
    requires: str
    install_hint: str
    usable: str | None = None

    def is_installed(self) -> bool:
        """Whether the runtime this backend needs can be imported here."""
        return importlib.util.find_spec(self.requires) is not None

    def is_usable(self, model_path: Path) -> bool:
        """Whether ``auto`` may pick this installed backend for a model (its ``usable`` check)."""
        if self.usable is None:
            return True
        module_name, function_name = self.usable.split(":")
        try:
            check: Any = getattr(importlib.import_module(module_name), function_name)
        except ImportError:  # installed but broken (e.g. a CUDA library missing): not usable
            return False
        return bool(check(model_path))

    def load_class(self) -> type[Backend]:
        """Import and return the backend class."""
        module_name, class_name = self.implementation.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:  # e.g. an optional library the runtime needs is missing
            raise BackendNotAvailableError(
                f"backend {self.name} cannot be imported ({error}): {self.install_hint}"
            ) from error
        backend_class: type[Backend] = getattr(module, class_name)
        return backend_class


# In order of preference for backend "auto".
BACKENDS: tuple[BackendEntry, ...] = (
    BackendEntry(
        name="tensorrt",
        implementation="yolo_trt_ros.backends.tensorrt_backend:TensorRTBackend",
        suffixes=(".engine", ".plan"),
        requires="tensorrt",
        install_hint="TensorRT comes with JetPack on Jetson, and from NVIDIA for x86 GPUs",
    ),
    BackendEntry(
        name="torch",
        implementation="yolo_trt_ros.backends.torch_backend:TorchBackend",
        suffixes=(".onnx", ".torchscript"),
        requires="torch",
        install_hint="pip install torch (a CUDA build) onnx2torch cuda-bindings; NVIDIA GPUs only",
        usable="yolo_trt_ros.backends.torch_backend:usable_for",
    ),
    BackendEntry(
        name="onnxruntime",
        implementation="yolo_trt_ros.backends.onnxruntime_backend:OnnxRuntimeBackend",
        suffixes=(".onnx",),
        requires="onnxruntime",
        install_hint="pip install onnxruntime (or onnxruntime-gpu for CUDA)",
    ),
)


def available_backends() -> list[str]:
    """Names of the backends whose runtime is installed here."""
    return [entry.name for entry in BACKENDS if entry.is_installed()]


def resolve_backend(name: str, model_path: Path) -> BackendEntry:
    """Choose the backend entry for a model file: by name, or the first installed match for "auto".

    Raises:
        BackendNotAvailableError: unknown name, runtime not installed, or no backend loads the file.

    """
    suffix = model_path.suffix.lower()
    if name == "auto":
        matching = [entry for entry in BACKENDS if suffix in entry.suffixes]
        for entry in matching:
            if entry.is_installed() and entry.is_usable(model_path):
                return entry
        if matching:
            hints = "; ".join(f"{e.name}: {e.install_hint}" for e in matching)
            raise BackendNotAvailableError(f"no backend for {suffix} files is installed ({hints})")
        known = sorted({s for entry in BACKENDS for s in entry.suffixes})
        raise BackendNotAvailableError(
            f"no backend loads {suffix or 'suffix-less'} files like {model_path}; known: {', '.join(known)}"
        )
    named = next((e for e in BACKENDS if e.name == name), None)
    if named is None:
        raise BackendNotAvailableError(
            f"unknown backend {name!r}; choose auto or one of: {', '.join(e.name for e in BACKENDS)}"
        )
    entry = named
    if not entry.is_installed():
        raise BackendNotAvailableError(
            f"backend {name} needs the Python module {entry.requires}: {entry.install_hint}"
        )
    if suffix not in entry.suffixes:
        raise BackendNotAvailableError(
            f"backend {name} loads {', '.join(entry.suffixes)} files, not {model_path.name}"
        )
    return entry


def load_backend(
    model_path: str | Path, backend: str = "auto", device: str = "auto", **options: Any
) -> Backend:
    """Load a model file with the named backend (or the best installed one) on ``device``."""
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"model file {path} {'is a folder' if path.is_dir() else 'does not exist'} "
            "(check the path, or the `model` parameter)"
        )
    return resolve_backend(backend, path).load_class().load(path, device=device, **options)
