"""Jetson power-mode profiles: data files that pick the detector settings for a power budget.

A profile (``config/power_modes/<mode>.yaml``) names the nvpmodel modes it is for and chooses the
model size, precision, input size, accelerator and frame-rate cap; ``parameters`` may set any
other detector parameter. Loading checks every field and says which file and field is wrong.

    power_modes: [15W]           # nvpmodel mode names (as the board's nvpmodel.conf spells them)
    boards: [Orin Nano, Orin NX, AGX Orin]
    description: YOLO11n INT8 at 640 on the GPU, 20 Hz per camera
    model_size: n                # yolo11<size>.onnx in models_dir (n: the bundled model if absent)
    precision: int8              # fp32 | fp16 | int8
    image_size: 640              # model input side, a multiple of 32
    accelerator: gpu             # gpu | dla:<core>
    max_rate_hz: 20.0            # frames per second per camera
    parameters: {}               # optional: other detector parameters
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from yolo_trt_ros.errors import InvalidProfileError, InvalidSettingError
from yolo_trt_ros.jetson.boards import DLA_CORES
from yolo_trt_ros.settings import SPECS, DetectorConfig, Device, check_precision_on, defaults
from yolo_trt_ros.settings.values import ENGINE_PRECISIONS

__all__ = [
    "MODEL_SIZES",
    "PowerProfile",
    "find_profile",
    "load_profile",
    "profile_for_mode",
    "profile_paths",
]

MODEL_SIZES: Final = ("n", "s", "m", "l", "x")
_PRECISIONS: Final = ENGINE_PRECISIONS
_REQUIRED: Final = (
    "power_modes",
    "boards",
    "description",
    "model_size",
    "precision",
    "image_size",
    "accelerator",
    "max_rate_hz",
)
_OPTIONAL: Final = ("parameters",)
# Detector parameters a profile sets through its own fields; `parameters` must not repeat them.
_OWN_FIELDS: Final = {
    "model": "model_size",
    "precision": "precision",
    "image_size": "image_size",
    "device": "accelerator",
    "max_rate_hz": "max_rate_hz",
    "expected_power_modes": "power_modes",
}
_MODE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class PowerProfile:
    """A validated power-mode profile."""

    name: str  # the file stem, e.g. "15w"
    path: Path
    power_modes: tuple[str, ...]
    boards: tuple[str, ...]
    description: str
    model_size: str
    precision: str
    image_size: int
    accelerator: str
    max_rate_hz: float
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        """The detector's device parameter for this accelerator (gpu -> cuda)."""
        return "cuda" if self.accelerator == "gpu" else self.accelerator

    @property
    def model_file_name(self) -> str:
        """The ONNX file this profile's model size refers to."""
        return f"yolo11{self.model_size}.onnx"

    def detector_parameters(self) -> dict[str, Any]:
        """Return the detector parameters this profile sets (everything but the model path)."""
        return {
            **self.parameters,
            "precision": self.precision,
            "image_size": self.image_size,
            "device": self.device,
            "max_rate_hz": self.max_rate_hz,
            "expected_power_modes": list(self.power_modes),
        }


def _suggest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _string_tuple(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise ValueError(f"{what} must be a non-empty list of names, got {value!r}")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{what} must hold names (text), got {value!r}")
    return tuple(item.strip() for item in value)


def _check_keys(data: Mapping[str, Any]) -> None:
    known = (*_REQUIRED, *_OPTIONAL)
    unknown = [key for key in data if key not in known]
    if unknown:
        raise ValueError(
            "; ".join(f"unknown field {key!r}{_suggest(str(key), known)}" for key in unknown)
            + f" (fields: {', '.join(known)})"
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")


def _check_accelerator(accelerator: Any, precision: str, boards: tuple[str, ...]) -> str:
    device = Device.parse(accelerator) if isinstance(accelerator, str) else None
    if accelerator == "gpu":
        return "gpu"
    if device is None or device.index is None or not device.is_dla:
        raise ValueError(f"accelerator must be gpu or dla:<core>, got {accelerator!r}")
    try:
        check_precision_on(device, precision)
    except InvalidSettingError:
        raise ValueError(f"{accelerator} runs fp16 or int8 only, not {precision}") from None
    lacking = [board for board in boards if DLA_CORES[board] <= device.index]
    if lacking:
        raise ValueError(
            f"{accelerator} needs DLA core {device.index}, which {', '.join(lacking)} do(es) not have; "
            "use gpu or drop those boards"
        )
    return str(accelerator)


def _check_parameters(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"parameters must be a mapping of detector parameters, got {value!r}")
    problems = []
    for name in value:
        if name in _OWN_FIELDS:
            problems.append(f"set {name} with the profile's own field {_OWN_FIELDS[name]}")
        elif name not in SPECS:
            problems.append(
                f"parameters.{name} is not a detector parameter{_suggest(name, list(SPECS))}"
            )
    if problems:
        raise ValueError("; ".join(problems))
    return dict(value)


def _build(path: Path, data: Mapping[str, Any]) -> PowerProfile:
    _check_keys(data)
    boards = _string_tuple(data["boards"], "boards")
    unknown_boards = [board for board in boards if board not in DLA_CORES]
    if unknown_boards:
        raise ValueError(
            f"unknown board(s) {unknown_boards}; known: {', '.join(DLA_CORES)}"
            + _suggest(unknown_boards[0], list(DLA_CORES))
        )
    modes = _string_tuple(data["power_modes"], "power_modes")
    bad_modes = [mode for mode in modes if not _MODE_NAME.match(mode)]
    if bad_modes:
        raise ValueError(f"power_modes {bad_modes} are not nvpmodel names (like 15W, MAXN_SUPER)")
    if data["model_size"] not in MODEL_SIZES:
        raise ValueError(
            f"model_size must be one of {', '.join(MODEL_SIZES)}, got {data['model_size']!r}"
        )
    if data["precision"] not in _PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(_PRECISIONS)}, got {data['precision']!r}"
            + _suggest(str(data["precision"]), _PRECISIONS)
        )
    image_size, rate = data["image_size"], data["max_rate_hz"]
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
        raise ValueError(
            f"image_size must be a positive whole number of pixels, got {image_size!r}"
        )
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise ValueError(f"max_rate_hz must be a number of frames per second > 0, got {rate!r}")
    if not isinstance(data["description"], str) or not data["description"].strip():
        raise ValueError("description must say in a line what the profile runs")
    profile = PowerProfile(
        name=path.stem,
        path=path,
        power_modes=modes,
        boards=boards,
        description=data["description"].strip(),
        model_size=data["model_size"],
        precision=data["precision"],
        image_size=image_size,
        accelerator=_check_accelerator(data["accelerator"], data["precision"], boards),
        max_rate_hz=float(rate),
        parameters=_check_parameters(data.get("parameters")),
    )
    DetectorConfig.from_values(defaults() | profile.detector_parameters())  # the node's own checks
    return profile


def load_profile(path: Path) -> PowerProfile:
    """Load and validate one profile; raise InvalidProfileError naming the file and the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidProfileError(
            f"power-mode profile {path}: cannot read it: {error.strerror}"
        ) from None
    except yaml.YAMLError as error:
        raise InvalidProfileError(f"power-mode profile {path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InvalidProfileError(
            f"power-mode profile {path}: expected a mapping of fields, got {type(data).__name__}"
        )
    try:
        return _build(path, data)
    except (ValueError, InvalidSettingError) as error:
        raise InvalidProfileError(f"power-mode profile {path}: {error}") from None


def profile_paths(directory: Path) -> list[Path]:
    """Return the profile files in a directory (config/power_modes), sorted by name."""
    return sorted(directory.glob("*.yaml"))


def find_profile(name: str, directory: Path) -> PowerProfile:
    """Load the profile named by its file stem (15w) or by one of its nvpmodel modes (MAXN_SUPER)."""
    wanted = name.strip().lower()
    paths = profile_paths(directory)
    for path in paths:
        if path.stem.lower() == wanted:
            return load_profile(path)
    for path in paths:
        profile = load_profile(path)
        if wanted in {mode.lower() for mode in profile.power_modes}:
            return profile
    stems = [path.stem for path in paths]
    raise InvalidProfileError(
        f"no power-mode profile {name!r} in {directory}{_suggest(wanted, stems)}; "
        f"profiles: {', '.join(stems) or 'none'}"
    )


def profile_for_mode(mode_name: str, directory: Path) -> PowerProfile:
    """Return the profile made for a running nvpmodel mode, or raise InvalidProfileError."""
    for path in profile_paths(directory):
        profile = load_profile(path)
        if mode_name.upper() in {mode.upper() for mode in profile.power_modes}:
            return profile
    raise InvalidProfileError(
        f"no power-mode profile in {directory} is made for the running mode {mode_name}; "
        "pick one with power_mode:=<profile>, or add config/power_modes/<mode>.yaml for it"
    )
