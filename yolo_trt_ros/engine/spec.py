"""What an engine is built from, what it is built for, and the cache key that ties the two.

An engine is only valid for the exact model bytes, build settings and device software it was made
with: a new GPU, TensorRT, CUDA or JetPack release silently needs a rebuild. ``cache_key`` hashes
all of it, so a stale engine can never be looked up by accident.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings.values import (
    ENGINE_PRECISIONS,
    Device,
    ImageSize,
    check_precision_on,
)

__all__ = ["PRECISIONS", "DeviceFingerprint", "EngineSpec", "cache_key", "file_sha256"]

PRECISIONS: Final = ENGINE_PRECISIONS


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks (engines can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class EngineSpec:
    """Everything that shapes an engine build; invalid combinations raise InvalidSettingError.

    ``model_sha256`` identifies the model bytes, so a re-exported model with the same file name
    gets a new engine. ``calibration_sha256`` does the same for the INT8 calibration images.
    """

    model: str
    model_sha256: str
    image_size: tuple[int, int] = (640, 640)
    batch: int = 1
    dynamic: bool = False
    precision: str = "fp16"
    device: str = "cuda:0"
    gpu_fallback: bool = True
    workspace_mib: int = 0
    optimization_level: int = -1
    nms: str = "outside"
    calibration_sha256: str = ""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InvalidSettingError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        device = Device.parse(self.device)
        if device is None or device.kind not in ("cuda", "dla") or device.index is None:
            raise InvalidSettingError(f"engine device must be cuda:N or dla:N, not {self.device!r}")
        check_precision_on(device, self.precision, " with a dla device")
        ImageSize(*self.image_size)  # positive multiples of the stride
        if not 1 <= self.batch <= 64:
            raise InvalidSettingError(f"batch must be within 1..64, not {self.batch}")
        if self.workspace_mib < 0:
            raise InvalidSettingError(
                f"workspace_mib must be 0 (TensorRT's default) or positive, not {self.workspace_mib}"
            )
        if not -1 <= self.optimization_level <= 5:
            raise InvalidSettingError(
                f"optimization_level must be -1 (default) or 0..5, not {self.optimization_level}"
            )
        if self.nms not in ("outside", "inside"):
            raise InvalidSettingError(f"nms must be 'outside' or 'inside', not {self.nms!r}")
        if self.precision == "int8" and not self.calibration_sha256:
            raise InvalidSettingError(
                "int8 needs calibration images: set calibration_dir to a folder of typical frames"
            )
        if len(self.model_sha256) != 64:
            raise InvalidSettingError("model_sha256 must be a full sha256 hex digest")

    @property
    def is_dla(self) -> bool:
        """Whether the engine targets a Jetson DLA core."""
        return self.device.startswith("dla:")

    @property
    def device_index(self) -> int:
        """The GPU or DLA core number."""
        return int(self.device.split(":")[1])


@dataclass(frozen=True)
class DeviceFingerprint:
    """The device software an engine is tied to. Empty strings mean unknown (e.g. not a Jetson)."""

    gpu_name: str
    compute_capability: str
    tensorrt_version: str
    cuda_version: str
    l4t_release: str = ""

    def mismatches(self, other: DeviceFingerprint) -> list[str]:
        """Name each field that differs from ``other``, with both values."""
        mine, theirs = asdict(self), asdict(other)
        return [
            f"{key}: engine has {theirs[key]!r}, this device {mine[key]!r}"
            for key in mine
            if mine[key] != theirs[key]
        ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def cache_key(spec: EngineSpec, fingerprint: DeviceFingerprint) -> str:
    """Return a readable, collision-safe name for the engine: model-precision-size-batch-device-hash.

    The model's path does not enter the hash (moving a file must not force a rebuild); its
    bytes do, through ``model_sha256``.
    """
    hashed = asdict(spec) | {"model": None} | {"fingerprint": asdict(fingerprint)}
    digest = hashlib.sha256(_canonical(hashed).encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(spec.model).stem)[:40] or "model"
    height, width = spec.image_size
    device = spec.device.replace(":", "")
    return f"{stem}-{spec.precision}-{height}x{width}-b{spec.batch}{'d' if spec.dynamic else ''}-{device}-{digest}"
