"""The detector node's settings, validated, with their defaults taken from the parameter table.

``DetectorConfig.from_values`` reads the raw values ROS gives (lists as lists, unset as None); any
bad value raises an ``InvalidSettingError`` whose ``parameter`` names the culprit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings.table import SPECS, check_parameter_value
from yolo_trt_ros.settings.values import DEVICE_FORMS, STRIDE, Device, is_stride_multiple

__all__ = ["DetectorConfig"]

_INPUT_TYPES: Final = ("raw", "compressed")
_STRING_LISTS: Final = ("image_topics", "camera_names", "input_types", "expected_power_modes")
_LIST_PARAMETERS: Final = frozenset({"classes", *_STRING_LISTS})
MIN_RATE_CAP_HZ: Final = 0.01  # one frame every 100 s; a smaller cap would all but stop the camera


def _default(name: str) -> Any:
    """Return the table's default for a parameter, lists as tuples and unset lists as ()."""
    value = SPECS[name].default
    if name in _LIST_PARAMETERS:
        return tuple(value or ())
    return value


def _string_list(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, Sequence) or not all(isinstance(item, str) for item in value):
        raise InvalidSettingError.of(name, f"expected a list of strings, got {value!r}")
    return tuple(item for item in value if item)


def _class_list(classes: Any) -> tuple[str | int, ...]:
    if classes is None or classes == "":
        return ()
    if isinstance(classes, str) or (isinstance(classes, int) and not isinstance(classes, bool)):
        return (classes,)
    if isinstance(classes, Sequence) and all(
        isinstance(c, str | int) and not isinstance(c, bool) for c in classes
    ):
        return tuple(c for c in classes if c != "")
    raise InvalidSettingError.of("classes", f"expected class names or indices, got {classes!r}")


@dataclass(frozen=True)
class DetectorConfig:
    """The node's settings, validated: construction raises InvalidSettingError naming the parameter."""

    model: str = _default("model")
    backend: str = _default("backend")
    precision: str = _default("precision")
    device: str = _default("device")
    pipeline: str = _default("pipeline")
    optimize_in_background: bool = _default("optimize_in_background")
    cuda_graph: bool = _default("cuda_graph")
    optimization_level: int = _default("optimization_level")
    image_size: int = _default("image_size")
    confidence_threshold: float = _default("confidence_threshold")
    iou_threshold: float = _default("iou_threshold")
    max_detections: int = _default("max_detections")
    classes: tuple[str | int, ...] = _default("classes")
    agnostic_nms: bool = _default("agnostic_nms")
    class_id_style: str = _default("class_id_style")
    engine_cache_dir: str = _default("engine_cache_dir")
    engine_cache_policy: str = _default("engine_cache_policy")
    calibration_dir: str = _default("calibration_dir")
    image_topics: tuple[str, ...] = _default("image_topics")
    camera_names: tuple[str, ...] = _default("camera_names")
    input_types: tuple[str, ...] = _default("input_types")
    qos_reliability: str = _default("qos_reliability")
    qos_depth: int = _default("qos_depth")
    serialized_images: bool = _default("serialized_images")
    jpeg_decoder: str = _default("jpeg_decoder")
    reuse_frame_memory: bool = _default("reuse_frame_memory")
    publish_annotated: bool = _default("publish_annotated")
    autostart: bool = _default("autostart")
    warmup_runs: int = _default("warmup_runs")
    max_image_pixels: int = _default("max_image_pixels")
    max_rate_hz: float = _default("max_rate_hz")
    diagnostics_period: float = _default("diagnostics_period")
    expected_power_modes: tuple[str, ...] = _default("expected_power_modes")
    set_power_mode: bool = _default("set_power_mode")

    def __post_init__(self) -> None:
        for item in fields(self):
            if item.name not in _LIST_PARAMETERS:
                check_parameter_value(item.name, getattr(self, item.name))
        if Device.parse(self.device) is None:
            raise InvalidSettingError.of("device", f"{self.device!r} is not {DEVICE_FORMS}")
        if not is_stride_multiple(self.image_size):
            raise InvalidSettingError.of(
                "image_size",
                f"{self.image_size} is not a multiple of {STRIDE} (the model stride)",
            )
        if 0 < self.max_rate_hz < MIN_RATE_CAP_HZ:
            raise InvalidSettingError.of(
                "max_rate_hz",
                f"{self.max_rate_hz:g} Hz would process one frame every "
                f"{1 / self.max_rate_hz:.3g} s: use 0 (no cap) or at least {MIN_RATE_CAP_HZ} Hz",
            )
        self._check_topics()
        self._check_names()

    def _check_topics(self) -> None:
        topics = self.image_topics
        if not topics:
            raise InvalidSettingError.of("image_topics", "give at least one image topic")
        if len(set(topics)) != len(topics):
            raise InvalidSettingError.of(
                "image_topics", f"a topic is listed twice in {list(topics)}"
            )
        if len(self.input_types) not in (1, len(topics)):
            raise InvalidSettingError.of(
                "input_types",
                f"give one type, or one per topic ({len(topics)}), not {len(self.input_types)}",
            )
        bad = [t for t in self.input_types if t not in _INPUT_TYPES]
        if bad:
            raise InvalidSettingError.of("input_types", f"{bad} must each be raw or compressed")
        if self.camera_names and len(self.camera_names) != len(topics):
            raise InvalidSettingError.of(
                "camera_names",
                f"give one name per topic ({len(topics)}), not {len(self.camera_names)}",
            )

    def _check_names(self) -> None:
        if len(set(self.camera_names)) != len(self.camera_names):
            raise InvalidSettingError.of(
                "camera_names", f"names must be unique, got {list(self.camera_names)}"
            )
        bad_modes = [m for m in self.expected_power_modes if not re.fullmatch(r"[A-Za-z0-9_]+", m)]
        if bad_modes:
            raise InvalidSettingError.of(
                "expected_power_modes",
                f"{bad_modes} are not nvpmodel mode names (like 15W or MAXN_SUPER)",
            )
        bad_names = [n for n in self.camera_names if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n)]
        if bad_names:
            raise InvalidSettingError.of(
                "camera_names",
                f"{bad_names} are not valid topic name tokens (letters, digits, _)",
            )

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> DetectorConfig:
        """Build from raw parameter values (lists as ROS gives them), validating each."""
        plain = {k: v for k, v in values.items() if k not in _LIST_PARAMETERS}
        classes = _class_list(values.get("classes"))
        lists: dict[str, Any] = {
            name: _string_list(name, values.get(name, SPECS[name].default))
            for name in _STRING_LISTS
        }
        return cls(**plain, **lists, classes=classes)

    def input_type_of(self, index: int) -> str:
        """Return the input type of the index-th topic."""
        return self.input_types[0] if len(self.input_types) == 1 else self.input_types[index]
