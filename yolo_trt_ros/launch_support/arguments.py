"""The launch arguments of detect.launch.py and export.launch.py, and how their text is read.

Launch arguments are text. An empty value means "not given": the setting then comes from the
power-mode profile, the params file or the node's default, in that order of precedence (lowest
first), and a given argument overrides all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Final

import yaml

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings.table import SPECS

__all__ = [
    "DETECTOR_PASSTHROUGH",
    "DETECT_ARGUMENTS",
    "EXPORT_ARGUMENTS",
    "LOG_LEVELS",
    "LaunchArgument",
    "misspelled_argument_warnings",
    "parse_bool",
    "parse_parameter_text",
    "ros2_launch_file",
    "unknown_argument_error",
]

LOG_LEVELS: Final = ("debug", "info", "warn", "error", "fatal")


@dataclass(frozen=True)
class LaunchArgument:
    """One launch argument: name, default text and what it does."""

    name: str
    default: str
    description: str


# Arguments that set the detector parameter of the same name when given.
DETECTOR_PASSTHROUGH: Final = (
    "model",
    "backend",
    "precision",
    "device",
    "image_size",
    "max_rate_hz",
    "image_topics",
    "camera_names",
)

DETECT_ARGUMENTS: Final = (
    LaunchArgument(
        "model",
        "",
        "Model file (.onnx, or .engine with TensorRT). Empty: the profile's model size from "
        "models_dir, else the bundled YOLO11n.",
    ),
    LaunchArgument("backend", "", "auto | tensorrt | onnxruntime | torch. Empty: auto."),
    LaunchArgument(
        "precision",
        "",
        "auto | fp32 | fp16 | int8 (TensorRT engines). Empty: the profile's or auto.",
    ),
    LaunchArgument(
        "device",
        "",
        "auto | cpu | cuda | cuda:N | dla:N. Empty: the profile's accelerator, else auto.",
    ),
    LaunchArgument(
        "image_size", "", "Model input side in pixels (multiple of 32). Empty: profile or model."
    ),
    LaunchArgument(
        "max_rate_hz",
        "",
        "Most frames processed per second per camera (0: no cap). Empty: the profile's, else none.",
    ),
    LaunchArgument(
        "image_topics",
        "",
        "Camera image topic, or several for one node: '[/front/image_raw, /rear/image_raw]' or "
        "'/front/image_raw,/rear/image_raw'. Relative names resolve in the namespace. "
        "Empty: the params file's, else 'image'.",
    ),
    LaunchArgument(
        "camera_names",
        "",
        "One short name per topic for the output topics (~/<camera>/detections). Empty: from topics.",
    ),
    LaunchArgument("namespace", "", "Namespace of the node (added under any pushed namespace)."),
    LaunchArgument(
        "name", "yolo_detector", "Node name; give each detector its own name or namespace."
    ),
    LaunchArgument(
        "params_file",
        "",
        "A ROS 2 parameters file (see config/detector.yaml and config/examples/); it overrides "
        "the profile, and arguments given here override it.",
    ),
    LaunchArgument(
        "power_mode",
        "",
        "Jetson power-mode profile from config/power_modes/: its name (15w), an nvpmodel mode it "
        "is for (MAXN_SUPER), or auto (the running mode's). Empty: no profile.",
    ),
    LaunchArgument(
        "models_dir",
        "~/.cache/yolo_trt_ros/models",
        "Where a profile's model size is looked up (yolo11s.onnx ...).",
    ),
    LaunchArgument(
        "set_power_mode",
        "",
        "true: switch the Jetson to the profile's power mode on configure (nvpmodel, needs root). "
        "Empty: the params file's, else false.",
    ),
    LaunchArgument(
        "autostart",
        "",
        "true: configure and activate at once; false: wait for a lifecycle manager. "
        "Empty: the params file's, else true.",
    ),
    LaunchArgument(
        "use_sim_time",
        "",
        "true: use /clock (rosbag replay, simulation). Empty: the params file's.",
    ),
    LaunchArgument(
        "dds_profile",
        "true",
        "Apply the package's DDS profile for camera frames (Fast DDS: 64 MiB shared memory; see "
        "docs/transport.md) unless one is already set; false leaves the DDS configuration alone.",
    ),
    LaunchArgument("log_level", "info", f"Node log level: {' | '.join(LOG_LEVELS)}."),
)

EXPORT_ARGUMENTS: Final = (
    LaunchArgument("model", "", "Model to export (.pt or .onnx). Empty: the params file's."),
    LaunchArgument("precision", "", "fp32 | fp16 | int8. Empty: the params file's or the node's."),
    LaunchArgument("device", "", "cuda:N | dla:N. Empty: the params file's or the node's."),
    LaunchArgument(
        "image_size", "", "Input size: '640' or '384,640' (height,width). Empty: the model's."
    ),
    LaunchArgument("output_dir", "", "Where the engine goes. Empty: the engine cache."),
    LaunchArgument("calibration_dir", "", "Images for INT8 calibration."),
    LaunchArgument("namespace", "", "Namespace of the node."),
    LaunchArgument("name", "yolo_export", "Node name of the export node."),
    LaunchArgument("params_file", "", "A ROS 2 parameters file for the export node."),
    LaunchArgument("use_sim_time", "", "true: use /clock. Empty: the params file's."),
    LaunchArgument("log_level", "info", f"Node log level: {' | '.join(LOG_LEVELS)}."),
)

_TRUE: Final = ("true", "1", "yes", "on")
_FALSE: Final = ("false", "0", "no", "off")


def parse_bool(name: str, text: str) -> bool:
    """Read a boolean launch argument (true/false, 1/0, yes/no, on/off)."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidSettingError(f"launch argument {name}: {text!r} is not true or false")


def _parse_list(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = yaml.safe_load(stripped)
        except yaml.YAMLError as error:
            raise ValueError(f"not a list: {error}") from None
        if not isinstance(value, list):
            raise ValueError("not a list")
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in stripped.split(",") if item.strip()]


def parse_parameter_text(name: str, text: str) -> Any:
    """Convert a launch argument's text to the type of the detector parameter of that name."""
    spec = SPECS[name]
    try:
        if isinstance(spec.default, bool):
            return parse_bool(name, text)
        if isinstance(spec.default, int):
            return int(text.strip())
        if isinstance(spec.default, float):
            return float(text.strip())
        if isinstance(spec.default, list) or spec.dynamic_typing:
            return _parse_list(text)
    except ValueError as error:
        kind = type(spec.default).__name__ if spec.default is not None else "list"
        raise InvalidSettingError(
            f"launch argument {name}: {text!r} is not a valid {kind} ({error})"
        ) from None
    return text.strip()


# The file name endings `ros2 launch` takes as launch files.
_LAUNCH_FILE_ENDINGS: Final = (".launch.py", ".launch.xml", ".launch.yaml", ".launch.yml")


def ros2_launch_file(argv: Sequence[str]) -> str | None:
    """Return the launch file a `ros2 launch` command line runs (its name); None for other programs.

    `ros2 launch [options] <package> <file> [name:=value ...]` or `ros2 launch <path> [...]`: the
    launch file is the first word before the arguments that ends like one.
    """
    if len(argv) < 3 or PurePath(argv[0]).name != "ros2" or argv[1] != "launch":
        return None
    for word in argv[2:]:
        if ":=" in word:
            break
        if word.endswith(_LAUNCH_FILE_ENDINGS):
            return PurePath(word).name
    return None


def _declared_list(launch_file: str, declared: Sequence[str]) -> str:
    return (
        f"{launch_file}'s arguments are {', '.join(declared)} "
        f"(`ros2 launch yolo_trt_ros {launch_file} --show-args` describes them)"
    )


def _close(name: str, declared: Sequence[str]) -> list[str]:
    return difflib.get_close_matches(name, declared, n=2, cutoff=0.75)


def unknown_argument_error(
    launch_file: str, declared: Sequence[str], given: Iterable[str]
) -> str | None:
    """Why the arguments given to the launch file on the command line are refused, or None.

    `ros2 launch` silently ignores an argument that the launch file does not declare, so a
    misspelled one (image_topic:=...) would leave the setting at its default without a word.
    """
    unknown = sorted({name for name in given if name not in declared})
    if not unknown:
        return None
    parts = []
    for name in unknown:
        close = _close(name, declared)
        parts.append(f"{name} (did you mean {' or '.join(close)}?)" if close else name)
    return (
        f"{launch_file} has no argument {', '.join(parts)}: {_declared_list(launch_file, declared)}"
    )


def misspelled_argument_warnings(
    launch_file: str, declared: Sequence[str], names: Iterable[str]
) -> list[str]:
    """Warnings for names that look like a misspelled argument of an included launch file.

    An included launch file sees the command line's arguments too, which are meant for the file
    that includes it: only names close to one of its own arguments are suspicious.
    """
    warnings = []
    for name in sorted(set(names) - set(declared)):
        close = _close(name, declared)
        if close:
            warnings.append(
                f"launch argument {name} is not one of {launch_file}'s (did you mean "
                f"{' or '.join(close)}?); ignore this if the including launch file declares it. "
                f"{_declared_list(launch_file, declared)}"
            )
    return warnings
