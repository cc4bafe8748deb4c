"""The one interface every inference backend implements: load, infer, close, and what it runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.closing import ClosesOnExit
from yolo_trt_ros.core.metadata import ModelMetadata

__all__ = ["Backend", "TensorSpec"]


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, shape (symbolic dims as str or None) and element type."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: np.dtype[Any]

    @property
    def is_dynamic(self) -> bool:
        """Whether any dimension is not fixed."""
        return any(not isinstance(d, int) or d < 0 for d in self.shape)

    def fixed_dim(self, axis: int) -> int | None:
        """Return the size of one axis, or None where it is dynamic."""
        dim = self.shape[axis]
        return dim if isinstance(dim, int) and dim >= 0 else None


class Backend(ClosesOnExit, ABC):
    """A loaded model on one device. Instances come from ``load`` and must be ``close``d.

    Subclasses set ``name`` (the registry key) and ``_inputs``/``_outputs`` (the tensor specs) and
    implement the abstract members. ``infer`` takes one NCHW input batch and returns the outputs in
    ``output_specs`` order as host arrays.
    """

    name: ClassVar[str]
    _inputs: list[TensorSpec]
    _outputs: list[TensorSpec]

    @classmethod
    @abstractmethod
    def load(cls, model_path: Path, *, device: str = "auto", **options: Any) -> Backend:
        """Load a model file for inference on ``device`` ("auto", "cpu", "cuda:0", ...)."""

    @property
    def input_specs(self) -> Sequence[TensorSpec]:
        """The model's inputs (YOLO detectors have exactly one)."""
        return self._inputs

    @property
    def output_specs(self) -> Sequence[TensorSpec]:
        """The model's outputs, in the order ``infer`` returns them."""
        return self._outputs

    @property
    @abstractmethod
    def device(self) -> str:
        """Where inference actually runs, e.g. "cpu" or "cuda:0"."""

    @property
    @abstractmethod
    def version(self) -> str:
        """Runtime name and version, e.g. "onnxruntime 1.31.1 (CPUExecutionProvider)"."""

    @property
    @abstractmethod
    def metadata(self) -> ModelMetadata:
        """What the model file says about itself (class names, image size, stride, task)."""

    @abstractmethod
    def infer(self, images: npt.NDArray[np.floating]) -> list[npt.NDArray[np.generic]]:
        """Run the model on one (N, 3, H, W) batch; return its outputs as host arrays."""

    @abstractmethod
    def close(self) -> None:
        """Release the model and its device memory; safe to call twice."""
