"""Turn launch arguments into what a launch file starts: node name, namespace, parameters, notes.

The detector's parameters come in layers, later ones winning: the node's defaults, the power-mode
profile, the params file, then the launch arguments that were given. The layers are passed to the
node in that order (ROS applies later parameter files over earlier ones); they are also merged
here and checked with the node's own validation, so a bad value stops the launch with a message
that names its source instead of surfacing later in the node.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Final

import yaml

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.jetson import Nvpmodel
from yolo_trt_ros.launch_support.arguments import (
    DETECT_ARGUMENTS,
    DETECTOR_PASSTHROUGH,
    EXPORT_ARGUMENTS,
    LOG_LEVELS,
    LaunchArgument,
    parse_bool,
    parse_parameter_text,
)
from yolo_trt_ros.launch_support.params_files import read_node_parameters
from yolo_trt_ros.launch_support.profiles import PowerProfile, find_profile, profile_for_mode
from yolo_trt_ros.settings import SPECS, DetectorConfig, ImageSize, defaults

__all__ = [
    "DetectorLaunchPlan",
    "ExportLaunchPlan",
    "plan_detector",
    "plan_export",
    "write_parameters_file",
]

# Parameters every rclpy node has; a params file may set them without a warning.
_ROS_PARAMETERS: Final = ("use_sim_time", "start_type_description_service")
_NODE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NAMESPACE = re.compile(r"^/?([A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*)?/?$")


@dataclass(frozen=True)
class DetectorLaunchPlan:
    """What detect.launch.py starts, and what it should tell the user."""

    name: str
    namespace: str
    parameters: tuple[dict[str, Any] | str, ...]  # profile, params file path, arguments
    ros_arguments: tuple[str, ...]
    profile: PowerProfile | None = None
    notes: tuple[str, ...] = ()  # logged at info level
    warnings: tuple[str, ...] = ()  # logged at warning level
    effective: Mapping[str, Any] = field(default_factory=dict)  # merged detector parameters


@dataclass(frozen=True)
class ExportLaunchPlan:
    """What export.launch.py starts."""

    name: str
    namespace: str
    parameters: tuple[dict[str, Any] | str, ...]
    ros_arguments: tuple[str, ...]


def _arguments_with_defaults(
    arguments: Mapping[str, str], table: tuple[LaunchArgument, ...]
) -> dict[str, str]:
    return {arg.name: str(arguments.get(arg.name, arg.default)).strip() for arg in table}


def _node_identity(args: Mapping[str, str], pushed_namespace: str) -> tuple[str, str, str]:
    """Return (name, namespace, fully qualified name) after checking both names."""
    name, namespace = args["name"], args["namespace"]
    if not _NODE_NAME.match(name):
        raise InvalidSettingError(
            f"launch argument name: {name!r} is not a node name (letters, digits, _; a letter first)"
        )
    if not _NAMESPACE.match(namespace):
        raise InvalidSettingError(
            f"launch argument namespace: {namespace!r} is not a namespace (like robot1 or /robot1/front)"
        )
    if namespace.startswith("/"):
        full_namespace = namespace.rstrip("/")
    else:
        full_namespace = "/".join(
            part for part in (pushed_namespace.strip("/"), namespace.strip("/")) if part
        )
        full_namespace = f"/{full_namespace}" if full_namespace else ""
    return name, namespace, f"{full_namespace}/{name}"


def _log_arguments(level: str) -> tuple[str, ...]:
    if level.lower() not in LOG_LEVELS:
        raise InvalidSettingError(
            f"launch argument log_level: {level!r} is not one of {', '.join(LOG_LEVELS)}"
        )
    return ("--log-level", level.lower())


def _params_file(text: str) -> Path | None:
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        raise InvalidSettingError(
            f"launch argument params_file: {path} does not exist (relative paths start in "
            f"{Path.cwd()}); see config/examples/ for templates"
        )
    return path.resolve()


def _choose_profile(
    text: str, config_dir: Path, nvpmodel: Nvpmodel, notes: list[str]
) -> PowerProfile | None:
    if not text:
        return None
    directory = config_dir / "power_modes"
    if text.lower() != "auto":
        return find_profile(text, directory)
    reading = nvpmodel.read()
    if not reading.is_jetson:
        notes.append("power_mode auto: not a Jetson, so no power-mode profile applies")
        return None
    if reading.mode is None:
        raise InvalidSettingError(
            f"power_mode auto: cannot read the running power mode ({reading.problem}); "
            "name the profile instead (power_mode:=15w)"
        )
    notes.append(f"power_mode auto: the board runs {reading.mode}")
    return profile_for_mode(reading.mode.name, directory)


def _profile_model(profile: PowerProfile, models_dir: Path, notes: list[str]) -> str:
    """Return the model path a profile's model size stands for ('' = the bundled YOLO11n)."""
    candidate = models_dir / profile.model_file_name
    if candidate.is_file():
        return str(candidate)
    if profile.model_size == "n":
        notes.append(f"{candidate} not found: using the bundled YOLO11n")
        return ""
    raise InvalidSettingError(
        f"power-mode profile {profile.name} runs {profile.model_file_name}, which is not in "
        f"{models_dir}: export it there (e.g. `yolo export model=yolo11{profile.model_size}.pt "
        "format=onnx` where Ultralytics runs), set models_dir:=<folder>, or pass model:=<file>"
    )


def _check_file_parameters(path: Path, values: Mapping[str, Any], warnings: list[str]) -> None:
    for name, value in values.items():
        spec = SPECS.get(name)
        if spec is None:
            if name not in _ROS_PARAMETERS and not name.startswith("qos_overrides."):
                close = get_close_matches(name, list(SPECS), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                warnings.append(
                    f"params_file {path}: the detector has no parameter {name!r}{hint}; ROS ignores it"
                )
        elif (
            isinstance(spec.default, float)
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            raise InvalidSettingError(
                f"params_file {path}: {name}: {value} is an integer but ROS needs a float for "
                f"this parameter: write {float(value)}"
            )


def _validate(layers: list[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Merge the layers over the defaults and run the node's checks; name the culprit's source."""
    merged = defaults()
    for _, values in layers:
        merged.update({k: v for k, v in values.items() if k in SPECS})
    try:
        DetectorConfig.from_values(merged)
    except InvalidSettingError as error:
        source = next(
            (source for source, values in reversed(layers) if error.parameter in values),
            "the defaults",
        )
        raise InvalidSettingError(f"{error} (set by {source})") from None
    return merged


def plan_detector(
    arguments: Mapping[str, str],
    config_dir: Path,
    *,
    pushed_namespace: str = "",
    nvpmodel: Nvpmodel | None = None,
) -> DetectorLaunchPlan:
    """Resolve detect.launch.py's arguments (text, as launch gives them) into a launch plan."""
    args = _arguments_with_defaults(arguments, DETECT_ARGUMENTS)
    notes: list[str] = []
    warnings: list[str] = []
    name, namespace, fqn = _node_identity(args, pushed_namespace)
    ros_arguments = _log_arguments(args["log_level"])
    profile = _choose_profile(args["power_mode"], config_dir, nvpmodel or Nvpmodel(), notes)
    params_file = _params_file(args["params_file"])
    file_values = read_node_parameters(params_file, fqn) if params_file else {}
    if params_file:
        _check_file_parameters(params_file, file_values, warnings)

    given = {key: parse_parameter_text(key, args[key]) for key in DETECTOR_PASSTHROUGH if args[key]}
    empty = [key for key, value in given.items() if value == []]
    if empty:
        raise InvalidSettingError(
            f"launch argument {empty[0]}: give at least one name, or leave it out"
        )
    for key in ("set_power_mode", "use_sim_time", "autostart"):
        if args[key]:
            given[key] = parse_bool(key, args[key])
    if "autostart" not in given and "autostart" not in file_values:
        given["autostart"] = True  # launched without a lifecycle manager: start detecting

    profile_values: dict[str, Any] = {}
    if profile is not None:
        profile_values = profile.detector_parameters()
        if "model" not in given and "model" not in file_values:
            models_dir = Path(args["models_dir"]).expanduser()
            profile_values["model"] = _profile_model(profile, models_dir, notes)
        notes.append(
            f"power-mode profile {profile.name} ({' or '.join(profile.power_modes)}): "
            f"{profile.description}"
        )
        overridden = sorted(set(profile_values) & (set(file_values) | set(given)))
        if overridden:
            notes.append(f"overriding the profile's {', '.join(overridden)}")

    layers: list[tuple[str, Mapping[str, Any]]] = []
    if profile is not None:
        layers.append((f"power-mode profile {profile.path}", profile_values))
    if params_file:
        layers.append((f"params_file {params_file}", file_values))
    layers.append(("the launch arguments", given))
    effective = _validate(layers)
    notes.extend(_waiting_note(effective, fqn))

    parameters: list[dict[str, Any] | str] = []
    if profile_values:
        parameters.append(profile_values)
    if params_file:
        parameters.append(str(params_file))
    parameters.append(given)
    return DetectorLaunchPlan(
        name=name,
        namespace=namespace,
        parameters=tuple(parameters),
        ros_arguments=ros_arguments,
        profile=profile,
        notes=tuple(notes),
        warnings=tuple(warnings),
        effective=effective,
    )


def _waiting_note(effective: Mapping[str, Any], fqn: str) -> list[str]:
    """Say what a node that does not autostart waits for (else it would wait silently)."""
    if effective["autostart"]:
        return []
    return [
        "autostart is false: the node waits unconfigured for a lifecycle manager or "
        f"`ros2 lifecycle set {fqn} configure`"
    ]


def _image_size(text: str) -> list[int]:
    try:
        size = ImageSize.parse(text)
    except ValueError:  # InvalidSettingError too: a side that is not a multiple of the stride
        size = None
    if size is None:
        raise InvalidSettingError(
            f"launch argument image_size: {text!r} is not '640' or 'height,width' in multiples of 32",
            "image_size",
        )
    return list(size.pair)


def plan_export(arguments: Mapping[str, str], *, pushed_namespace: str = "") -> ExportLaunchPlan:
    """Resolve export.launch.py's arguments into a launch plan (given arguments override the file)."""
    args = _arguments_with_defaults(arguments, EXPORT_ARGUMENTS)
    name, namespace, _ = _node_identity(args, pushed_namespace)
    given: dict[str, Any] = {
        key: args[key]
        for key in ("model", "precision", "device", "output_dir", "calibration_dir")
        if args[key]
    }
    if args["image_size"]:
        given["image_size"] = _image_size(args["image_size"])
    if args["use_sim_time"]:
        given["use_sim_time"] = parse_bool("use_sim_time", args["use_sim_time"])
    params_file = _params_file(args["params_file"])
    parameters: list[dict[str, Any] | str] = [str(params_file)] if params_file else []
    if given:
        parameters.append(given)
    return ExportLaunchPlan(name, namespace, tuple(parameters), _log_arguments(args["log_level"]))


def write_parameters_file(values: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write parameters to a ROS 2 params file for any node name; return its path.

    Launch would re-read strings in a parameter dict as YAML (a camera named "on" would become a
    bool); a file written with the values' own types passes them to the node exactly.
    """
    with tempfile.NamedTemporaryFile(
        "w", prefix="yolo_trt_ros_", suffix=".yaml", dir=directory, delete=False
    ) as file:
        yaml.safe_dump({"/**": {"ros__parameters": dict(values)}}, file)
    return Path(file.name)
