"""The value types behind the device, precision and image size settings, each parsed in one place.

``Device.parse`` reads ``auto``, ``cpu``, ``cuda``, ``cuda:N`` and ``dla:N``; ``check_precision_on``
holds the one rule that ties precision to device (a DLA core runs FP16 or INT8 only); ``ImageSize``
reads a square side or a height and width and holds the stride rule (multiples of 32).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from yolo_trt_ros.errors import InvalidSettingError

__all__ = [
    "DEVICE_FORMS",
    "ENGINE_PRECISIONS",
    "PRECISIONS",
    "STRIDE",
    "Device",
    "ImageSize",
    "check_precision_on",
    "is_stride_multiple",
]

DEVICE_FORMS: Final = "auto, cpu, cuda, cuda:N or dla:N"
PRECISIONS: Final = ("auto", "fp32", "fp16", "int8")
ENGINE_PRECISIONS: Final = PRECISIONS[1:]  # what an engine or a profile names: never auto
STRIDE: Final = 32  # the model stride: input sides must be multiples of it
_DEVICE: Final = re.compile(r"^(auto|cpu|cuda|dla)(?::(\d+))?$")


@dataclass(frozen=True)
class Device:
    """Where inference runs: ``kind`` is auto, cpu, cuda or dla; ``index`` the GPU or DLA core."""

    kind: str
    index: int | None = None  # None: not given (auto, cpu, plain cuda)

    @classmethod
    def parse(cls, text: str) -> Device | None:
        """Read a device string; None if it is not one of auto, cpu, cuda, cuda:N, dla:N."""
        match = _DEVICE.match(text) if isinstance(text, str) else None
        if match is None:
            return None
        kind, index = match.group(1), match.group(2)
        if (kind in ("auto", "cpu") and index is not None) or (kind == "dla" and index is None):
            return None
        return cls(kind, None if index is None else int(index))

    @property
    def is_dla(self) -> bool:
        """Whether this is a Jetson DLA core."""
        return self.kind == "dla"

    @property
    def cuda_index(self) -> int | None:
        """The CUDA GPU number for cuda and cuda:N (0 for plain cuda), else None."""
        return (self.index or 0) if self.kind == "cuda" else None

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def check_precision_on(device: Device | None, precision: str, advice: str = "") -> None:
    """Raise InvalidSettingError (naming precision) if the device cannot run the precision."""
    if device is not None and device.is_dla and precision == "fp32":
        raise InvalidSettingError(
            f"DLA runs FP16 or INT8 only: use precision fp16 or int8{advice}", "precision"
        )


def is_stride_multiple(side: int) -> bool:
    """Whether an input side is a whole number of model strides."""
    return side % STRIDE == 0


@dataclass(frozen=True)
class ImageSize:
    """A model input size in pixels; both sides positive multiples of the stride."""

    height: int
    width: int

    def __post_init__(self) -> None:
        if not all(side > 0 and is_stride_multiple(side) for side in (self.height, self.width)):
            raise InvalidSettingError(
                f"image size {(self.height, self.width)} must be positive multiples of {STRIDE}",
                "image_size",
            )

    @classmethod
    def parse(cls, value: int | str | Sequence[int]) -> ImageSize | None:
        """Read 640, '640', '384,640', '384x640' or [384, 640]; None for 0 (the model's own).

        Raise ValueError if the value is none of these forms, InvalidSettingError for bad sides.
        """
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace("x", ",").split(",") if part.strip()]
            sides = [int(part) for part in parts]
        elif isinstance(value, int) and not isinstance(value, bool):
            sides = [value]
        elif isinstance(value, Sequence) and all(
            isinstance(side, int) and not isinstance(side, bool) for side in value
        ):
            sides = [int(side) for side in value]
        else:
            raise ValueError(f"{value!r} is not a size")
        if len(sides) not in (1, 2):
            raise ValueError(f"{value!r} is not one side or height and width")
        if sides == [0]:
            return None
        return cls(sides[0], sides[-1])

    @property
    def pair(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width
