"""The detector node's parameters: one table with descriptions, defaults and ranges, and validation.

Every parameter is declared from ``PARAMETERS`` (so ``ros2 param describe`` explains each one) and
read into a ``DetectorConfig`` on *configure*; a bad value becomes an ``InvalidSettingError`` that
names the parameter. Thresholds and limits (``LIVE_PARAMETERS``) also apply while active.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Final

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.image_headers import DEFAULT_MAX_PIXELS

__all__ = [
    "APPLIED_AT_ONCE",
    "DEFAULT_MAX_PIXELS",
    "LIVE_PARAMETERS",
    "PARAMETERS",
    "DetectorConfig",
    "ParameterSpec",
    "camera_names_for",
    "check_parameter_value",
    "descriptor_for",
    "resolve_classes",
]


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default, what it does, and what values it takes."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None
    dynamic_typing: bool = False  # for lists that may hold names or indices, or stay unset


PARAMETERS: Final[tuple[ParameterSpec, ...]] = (
    ParameterSpec(
        "model",
        "",
        "Model file: .onnx (or .engine with TensorRT). Empty: the bundled YOLO11n ONNX.",
    ),
    ParameterSpec(
        "backend",
        "auto",
        "Inference backend; auto picks the best installed one for the model file.",
        ("auto", "tensorrt", "onnxruntime", "torch"),
    ),
    ParameterSpec(
        "precision",
        "auto",
        "Precision; auto: fp16 on TensorRT and torch, the model file's own (fp32) on ONNX Runtime. int8 needs calibration_dir.",
        ("auto", "fp32", "fp16", "int8"),
    ),
    ParameterSpec(
        "device",
        "auto",
        "Where to infer: auto, cpu, cuda or cuda:N, dla:N (Jetson DLA core, with TensorRT).",
    ),
    ParameterSpec(
        "pipeline",
        "auto",
        "Where frames are prepared and decoded: gpu (upload, letterbox, inference, decoding and NMS on the GPU; only the boxes come back), host (NumPy/OpenCV around the model), or auto (gpu with the tensorrt or torch backend where NVRTC works, else host).",
        ("auto", "gpu", "host"),  # runtime_plan.PIPELINE_CHOICES (kept light to import)
    ),
    ParameterSpec(
        "optimize_in_background",
        True,
        "TensorRT: when no fully optimised engine is cached, build a quick one first (optimisation level 0, about a minute for YOLO11n on TensorRT 8.6), start detecting with it, and build the optimised engine in the background, switching to it without dropping a frame. false: wait for the optimised build on configure.",
    ),
    ParameterSpec(
        "optimization_level",
        -1,
        "TensorRT builder optimisation level of the engine: -1 TensorRT's default (fastest engine, slowest build: over 8 minutes for YOLO11n on TensorRT 8.6), 0..5 (lower builds faster, runs slower).",
        int_range=(-1, 5),
    ),
    ParameterSpec(
        "image_size",
        0,
        "Model input size in pixels (square, multiple of 32). 0: the model's own.",
        int_range=(0, 4096),
    ),
    ParameterSpec(
        "confidence_threshold",
        0.25,
        "Drop detections scoring at or below this.",
        float_range=(0.0, 1.0),
    ),
    ParameterSpec(
        "iou_threshold",
        0.7,
        "NMS: drop boxes overlapping a better one of the same class by more than this IoU.",
        float_range=(0.0, 1.0),
    ),
    ParameterSpec(
        "max_detections", 300, "Most detections published per image.", int_range=(1, 10000)
    ),
    ParameterSpec(
        "classes",
        None,
        "Only detect these classes: names (['person', 'car']) or indices ([0, 2]). Unset or empty: all.",
        dynamic_typing=True,
    ),
    ParameterSpec("agnostic_nms", False, "Suppress overlapping boxes across classes too."),
    ParameterSpec(
        "class_id_style",
        "name",
        "What ObjectHypothesis.class_id holds: the class name ('person') or its index ('0').",
        ("name", "index"),
    ),
    ParameterSpec(
        "engine_cache_dir",
        "",
        "Where TensorRT engines are cached. Empty: ~/.cache/yolo_trt_ros/engines.",
    ),
    ParameterSpec(
        "engine_cache_policy",
        "rebuild",
        "A cached engine that does not match this device, TensorRT or its hash is rebuilt, or refused (strict).",
        ("rebuild", "strict"),
    ),
    ParameterSpec(
        "calibration_dir",
        "",
        "Folder of typical camera frames for INT8 calibration (precision int8 only).",
    ),
    ParameterSpec(
        "image_topics",
        ["image"],
        "Camera image topics; one node serves several cameras. Relative names resolve in the node's namespace.",
    ),
    ParameterSpec(
        "camera_names",
        None,
        "Names for the cameras, one per topic, used in output topic names (~/<camera>/detections with several cameras). Unset: derived from the topics.",
        dynamic_typing=True,
    ),
    ParameterSpec(
        "input_types",
        ["raw"],
        "Per topic: raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage, JPEG/PNG). One value applies to all topics.",
    ),
    ParameterSpec(
        "qos_reliability",
        "auto",
        "Image subscription reliability; auto matches the publishers found on each topic.",
        ("auto", "reliable", "best_effort"),
    ),
    ParameterSpec(
        "qos_depth",
        1,
        "Image subscription queue depth; 1 keeps only the newest frame.",
        int_range=(1, 100),
    ),
    ParameterSpec(
        "serialized_images",
        True,
        "Take images as serialized CDR (raw subscription) and view the pixels in place, skipping Python message conversion. false: rclpy builds the message.",
    ),
    ParameterSpec(
        "jpeg_decoder",
        "auto",
        "Decoder for compressed topics: auto (nvImageCodec on the GPU when installed and the node may use a GPU, else OpenCV), opencv (CPU, libjpeg-turbo) or nvimgcodec (fail configure without it). PNG always goes through OpenCV.",
        ("auto", "opencv", "nvimgcodec"),  # image_decoders.DECODER_CHOICES (kept light to import)
    ),
    ParameterSpec(
        "reuse_frame_memory",
        True,
        "Keep freed frame-sized buffers in the process heap (glibc mallopt, applied on configure to the whole process) instead of returning them to the kernel after every frame: 6-11 ms less delivery latency per 1080p frame on the CI machine. Undoing it takes a restart.",
    ),
    ParameterSpec(
        "publish_annotated",
        False,
        "Offer ~/annotated images with boxes drawn (rendered only while someone subscribes).",
    ),
    ParameterSpec(
        "autostart", False, "Configure and activate on start, for use without a lifecycle manager."
    ),
    ParameterSpec(
        "warmup_runs",
        2,
        "Inferences on a blank frame during configure, so the first real frame is not slow.",
        int_range=(0, 100),
    ),
    ParameterSpec(
        "max_image_pixels",
        DEFAULT_MAX_PIXELS,
        "Refuse images larger than this many pixels (corrupt size fields, decompression bombs); also bounds the memory a compressed frame may take to decode.",
        int_range=(1, 1 << 31),
    ),
    ParameterSpec(
        "max_rate_hz",
        0.0,
        "Most frames processed per second per camera; frames arriving sooner are skipped (counted in diagnostics). 0: no cap.",
        float_range=(0.0, 1000.0),
    ),
    ParameterSpec(
        "diagnostics_period",
        1.0,
        "Seconds between the node's /diagnostics messages (diagnostic_updater's period); applies at once.",
        float_range=(0.1, 60.0),
    ),
    ParameterSpec(
        "expected_power_modes",
        None,
        "Jetson nvpmodel mode names the launch profile was made for (['15W']); on configure the node warns if the board runs another. Unset: not checked.",
        dynamic_typing=True,
    ),
    ParameterSpec(
        "set_power_mode",
        False,
        "On configure, switch the Jetson to the first of expected_power_modes with nvpmodel (needs root).",
    ),
)

# parameters that apply while active -> the Detector setting each one changes
LIVE_PARAMETERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "confidence_threshold": "conf",
        "iou_threshold": "iou",
        "max_detections": "max_det",
        "agnostic_nms": "agnostic",
    }
)
# parameters a running node applies at once: the detector's settings and the node's own timers
APPLIED_AT_ONCE: Final = frozenset({*LIVE_PARAMETERS, "diagnostics_period"})
_SPECS: Final = {spec.name: spec for spec in PARAMETERS}
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|dla:\d+)$")
_INPUT_TYPES: Final = ("raw", "compressed")
_LIST_PARAMETERS: Final = frozenset(
    {"classes", "image_topics", "camera_names", "input_types", "expected_power_modes"}
)


def descriptor_for(spec: ParameterSpec) -> ParameterDescriptor:
    """Build the ROS parameter descriptor (description, allowed values, range) for a spec."""
    notes = f" One of: {', '.join(spec.choices)}." if spec.choices else ""
    descriptor = ParameterDescriptor(
        description=spec.description + notes, dynamic_typing=spec.dynamic_typing
    )
    if spec.int_range:
        descriptor.integer_range = [
            IntegerRange(from_value=spec.int_range[0], to_value=spec.int_range[1], step=0)
        ]
    if spec.float_range:
        descriptor.floating_point_range = [
            FloatingPointRange(
                from_value=spec.float_range[0], to_value=spec.float_range[1], step=0.0
            )
        ]
    return descriptor


def check_parameter_value(name: str, value: Any) -> None:
    """Raise InvalidSettingError if a value is not acceptable for a known parameter."""
    spec = _SPECS.get(name)
    if spec is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidSettingError(f"parameter {name}: {value} is not a number")
    if spec.choices and value not in spec.choices:
        raise InvalidSettingError(
            f"parameter {name}: {value!r} is not one of {', '.join(spec.choices)}"
        )
    if spec.float_range and not spec.float_range[0] <= value <= spec.float_range[1]:
        raise InvalidSettingError(
            f"parameter {name}: {value} is outside [{spec.float_range[0]}, {spec.float_range[1]}]"
        )
    if spec.int_range and not spec.int_range[0] <= value <= spec.int_range[1]:
        raise InvalidSettingError(
            f"parameter {name}: {value} is outside [{spec.int_range[0]}, {spec.int_range[1]}]"
        )


def _string_list(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if not isinstance(value, Sequence) or not all(isinstance(item, str) for item in value):
        raise InvalidSettingError(f"parameter {name}: expected a list of strings, got {value!r}")
    return tuple(item for item in value if item)


@dataclass(frozen=True)
class DetectorConfig:
    """The node's settings, validated: construction raises InvalidSettingError naming the parameter."""

    model: str = ""
    backend: str = "auto"
    precision: str = "auto"
    device: str = "auto"
    pipeline: str = "auto"
    optimize_in_background: bool = True
    optimization_level: int = -1
    image_size: int = 0
    confidence_threshold: float = 0.25
    iou_threshold: float = 0.7
    max_detections: int = 300
    classes: tuple[str | int, ...] = ()
    agnostic_nms: bool = False
    class_id_style: str = "name"
    engine_cache_dir: str = ""
    engine_cache_policy: str = "rebuild"
    calibration_dir: str = ""
    image_topics: tuple[str, ...] = ("image",)
    camera_names: tuple[str, ...] = ()
    input_types: tuple[str, ...] = ("raw",)
    qos_reliability: str = "auto"
    qos_depth: int = 1
    serialized_images: bool = True
    jpeg_decoder: str = "auto"
    reuse_frame_memory: bool = True
    publish_annotated: bool = False
    autostart: bool = False
    warmup_runs: int = 2
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    max_rate_hz: float = 0.0
    diagnostics_period: float = 1.0
    expected_power_modes: tuple[str, ...] = ()
    set_power_mode: bool = False

    def __post_init__(self) -> None:
        for field in fields(self):
            if field.name not in _LIST_PARAMETERS:
                check_parameter_value(field.name, getattr(self, field.name))
        if not _DEVICE.match(self.device):
            raise InvalidSettingError(
                f"parameter device: {self.device!r} is not auto, cpu, cuda, cuda:N or dla:N"
            )
        if self.image_size % 32:
            raise InvalidSettingError(
                f"parameter image_size: {self.image_size} is not a multiple of 32 (the model stride)"
            )
        if not self.image_topics:
            raise InvalidSettingError("parameter image_topics: give at least one image topic")
        if len(set(self.image_topics)) != len(self.image_topics):
            raise InvalidSettingError(
                f"parameter image_topics: a topic is listed twice in {list(self.image_topics)}"
            )
        if len(self.input_types) not in (1, len(self.image_topics)):
            raise InvalidSettingError(
                f"parameter input_types: give one type, or one per topic ({len(self.image_topics)}), not {len(self.input_types)}"
            )
        bad = [t for t in self.input_types if t not in _INPUT_TYPES]
        if bad:
            raise InvalidSettingError(
                f"parameter input_types: {bad} must each be raw or compressed"
            )
        if self.camera_names and len(self.camera_names) != len(self.image_topics):
            raise InvalidSettingError(
                f"parameter camera_names: give one name per topic ({len(self.image_topics)}), not {len(self.camera_names)}"
            )
        if len(set(self.camera_names)) != len(self.camera_names):
            raise InvalidSettingError(
                f"parameter camera_names: names must be unique, got {list(self.camera_names)}"
            )
        bad_modes = [m for m in self.expected_power_modes if not re.fullmatch(r"[A-Za-z0-9_]+", m)]
        if bad_modes:
            raise InvalidSettingError(
                f"parameter expected_power_modes: {bad_modes} are not nvpmodel mode names (like 15W or MAXN_SUPER)"
            )
        bad_names = [n for n in self.camera_names if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n)]
        if bad_names:
            raise InvalidSettingError(
                f"parameter camera_names: {bad_names} are not valid topic name tokens (letters, digits, _)"
            )

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> DetectorConfig:
        """Build from raw parameter values (lists as ROS gives them), validating each."""
        classes = values.get("classes")
        if classes is None or classes == "":
            class_list: tuple[str | int, ...] = ()
        elif isinstance(classes, str | int):
            class_list = (classes,)
        elif isinstance(classes, Sequence) and all(
            isinstance(c, str | int) and not isinstance(c, bool) for c in classes
        ):
            class_list = tuple(c for c in classes if c != "")
        else:
            raise InvalidSettingError(
                f"parameter classes: expected class names or indices, got {classes!r}"
            )
        plain = {k: v for k, v in values.items() if k not in _LIST_PARAMETERS}
        return cls(
            **plain,
            classes=class_list,
            image_topics=_string_list("image_topics", values.get("image_topics", ["image"])),
            camera_names=_string_list("camera_names", values.get("camera_names")),
            input_types=_string_list("input_types", values.get("input_types", ["raw"])),
            expected_power_modes=_string_list(
                "expected_power_modes", values.get("expected_power_modes")
            ),
        )

    def input_type_of(self, index: int) -> str:
        """Return the input type of the index-th topic."""
        return self.input_types[0] if len(self.input_types) == 1 else self.input_types[index]


def resolve_classes(classes: Sequence[str | int], names: dict[int, str]) -> tuple[int, ...] | None:
    """Turn class names or indices (as text or int) into model class ids; None means all classes."""
    if not classes:
        return None
    by_name = {name: index for index, name in names.items()}
    resolved = []
    for item in classes:
        text = str(item).strip()
        if text.lstrip("-").isdigit():
            index = int(text)
            if names and index not in names:
                raise InvalidSettingError(
                    f"parameter classes: index {index} is not a class of this model (0..{len(names) - 1})"
                )
            resolved.append(index)
        elif text in by_name:
            resolved.append(by_name[text])
        else:
            raise InvalidSettingError(
                f"parameter classes: {text!r} is not a class of this model (e.g. {', '.join(list(by_name)[:5])})"
            )
    return tuple(sorted(set(resolved)))


_IMAGE_SUFFIXES = {
    "image",
    "image_raw",
    "image_rect",
    "image_color",
    "image_rect_color",
    "compressed",
    "color",
    "rgb",
}


def camera_names_for(topics: list[str] | tuple[str, ...]) -> list[str]:
    """Derive short unique camera names from topics: /front/camera/image_raw -> front_camera."""
    names = []
    for index, topic in enumerate(topics):
        parts = [p for p in topic.strip("/~").split("/") if p and p not in _IMAGE_SUFFIXES]
        name = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts)) or f"camera{index}"
        names.append(name if name[0].isalpha() else f"camera_{name}")
    if len(set(names)) != len(names):
        return [f"camera{index}" for index in range(len(topics))]
    return names
