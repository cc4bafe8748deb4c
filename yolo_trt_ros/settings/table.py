"""Every parameter of the package's nodes, once: name, default, description, allowed values.

The detector node declares its parameters from ``PARAMETERS`` (``ros/parameters.py`` turns a spec
into a ROS parameter descriptor), ``DetectorConfig`` takes its defaults from it, and the launch
files and power-mode profiles check names and values against it. ``EXPORT_PARAMETERS`` does the
same for the export node. No ROS here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.image_headers import DEFAULT_MAX_PIXELS
from yolo_trt_ros.settings.values import PRECISIONS

__all__ = [
    "APPLIED_AT_ONCE",
    "AT_ONCE",
    "EXPORT_PARAMETERS",
    "EXPORT_SPECS",
    "LIVE",
    "LIVE_PARAMETERS",
    "NEXT_CONFIGURE",
    "PARAMETERS",
    "SPECS",
    "ParameterSpec",
    "check_parameter_value",
    "defaults",
]

# When a change to a parameter takes effect on a running (active) detector node.
NEXT_CONFIGURE: Final = "next configure"  # read on configure; a change waits for the next one
LIVE: Final = "live"  # changes the running detector's setting of the same meaning
AT_ONCE: Final = "at once"  # the node applies it at once (its own timers)


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default, what it does, what values it takes and when it applies."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None
    dynamic_typing: bool = False  # for lists that may hold names or indices, or stay unset
    applies: str = NEXT_CONFIGURE
    detector_setting: str = ""  # LIVE: the Detector setting it changes

    def check(self, value: Any) -> None:
        """Raise InvalidSettingError (naming the parameter) if the value is out of range or choices."""
        name = self.name
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidSettingError.of(name, f"{value} is not a number")
        if self.choices and value not in self.choices:
            raise InvalidSettingError.of(name, f"{value!r} is not one of {', '.join(self.choices)}")
        for bounds in (self.float_range, self.int_range):
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise InvalidSettingError.of(name, f"{value} is outside [{bounds[0]}, {bounds[1]}]")


PARAMETERS: Final[tuple[ParameterSpec, ...]] = (  # the detector node's
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
        PRECISIONS,
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
        "cuda_graph",
        True,
        "tensorrt and torch backends: replay the model as a CUDA graph, one launch per frame instead of hundreds (on TensorRT 8.6 it saves about 1 ms of host time per frame). A capture the GPU refuses three times turns it off by itself (the backend version in the log says why). false: launch every kernel, for debugging.",
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
        applies=LIVE,
        detector_setting="conf",
    ),
    ParameterSpec(
        "iou_threshold",
        0.7,
        "NMS: drop boxes overlapping a better one of the same class by more than this IoU.",
        float_range=(0.0, 1.0),
        applies=LIVE,
        detector_setting="iou",
    ),
    ParameterSpec(
        "max_detections",
        300,
        "Most detections published per image.",
        int_range=(1, 10000),
        applies=LIVE,
        detector_setting="max_det",
    ),
    ParameterSpec(
        "classes",
        None,
        "Only detect these classes: names (['person', 'car']) or indices ([0, 2]). Unset or empty: all.",
        dynamic_typing=True,
    ),
    ParameterSpec(
        "agnostic_nms",
        False,
        "Suppress overlapping boxes across classes too.",
        applies=LIVE,
        detector_setting="agnostic",
    ),
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
        "Take images as serialized CDR (raw subscription) and view the pixels in place, skipping Python message conversion; a malformed message is refused as a bad frame, with the reason. false: rclpy builds the message, and drops a malformed one unseen (counted only as missed before the callback).",
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
        "Most frames processed per second per camera; frames arriving sooner are skipped (counted in diagnostics). 0: no cap; else at least 0.01.",
        float_range=(0.0, 1000.0),
    ),
    ParameterSpec(
        "diagnostics_period",
        1.0,
        "Seconds between the node's /diagnostics messages (diagnostic_updater's period); applies at once.",
        float_range=(0.1, 60.0),
        applies=AT_ONCE,
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

EXPORT_PARAMETERS: Final[tuple[ParameterSpec, ...]] = (  # the export node's
    ParameterSpec(
        "model",
        "",
        "Model to export: .onnx or .pt (needs Ultralytics). Empty: the bundled YOLO11n ONNX.",
    ),
    ParameterSpec(
        "precision",
        "auto",
        "auto | fp32 | fp16 | int8 (auto: fp16 with TensorRT, the model's own without).",
    ),
    ParameterSpec(
        "device",
        "auto",
        "auto | cuda:N | dla:N (DLA falls back to the GPU for unsupported layers).",
    ),
    ParameterSpec(
        "image_size",
        0,
        "Input size: 640 (square) or [height, width], multiples of 32. 0: 640.",
        dynamic_typing=True,
    ),
    ParameterSpec("batch", 1, "Largest batch the engine accepts.", int_range=(1, 1024)),
    ParameterSpec("dynamic", False, "Dynamic input shapes (1x32x32 up to batch x image_size)."),
    ParameterSpec(
        "calibration_dir", "", "Folder of typical frames for INT8 calibration (required for int8)."
    ),
    ParameterSpec(
        "workspace_mib",
        0,
        "TensorRT workspace limit in MiB; 0: TensorRT's default.",
        int_range=(0, 1 << 20),
    ),
    ParameterSpec(
        "optimization_level",
        -1,
        "TensorRT builder optimisation level 0..5; -1: TensorRT's default.",
        int_range=(-1, 5),
    ),
    ParameterSpec("force", False, "Rebuild even when a matching engine is cached."),
    ParameterSpec("output_dir", "", "Also copy the engine and its sidecar here."),
    ParameterSpec("engine_cache_dir", "", "Engine cache; empty: ~/.cache/yolo_trt_ros/engines."),
    ParameterSpec(
        "engine_cache_policy",
        "rebuild",
        "What to do with a stale cached engine: rebuild or strict (strict refuses).",
        ("rebuild", "strict"),  # engine.cache.POLICIES (kept light to import)
    ),
    ParameterSpec(
        "cache_policy",
        "",
        "Former name of engine_cache_policy; when set, it is used instead.",
    ),
    ParameterSpec(
        "backend",
        "auto",
        "auto | tensorrt (fail without it) | onnxruntime (prepare the ONNX only).",
        ("auto", "tensorrt", "onnxruntime"),
    ),
    ParameterSpec(
        "server", False, "Serve the ExportEngine action instead of exporting once and exiting."
    ),
)

SPECS: Final[Mapping[str, ParameterSpec]] = MappingProxyType({s.name: s for s in PARAMETERS})
EXPORT_SPECS: Final[Mapping[str, ParameterSpec]] = MappingProxyType(
    {s.name: s for s in EXPORT_PARAMETERS}
)
# parameters that apply while active -> the Detector setting each one changes
LIVE_PARAMETERS: Final[Mapping[str, str]] = MappingProxyType(
    {s.name: s.detector_setting for s in PARAMETERS if s.applies == LIVE}
)
# parameters a running node applies at once: the detector's settings and the node's own timers
APPLIED_AT_ONCE: Final = frozenset(s.name for s in PARAMETERS if s.applies in (LIVE, AT_ONCE))


def defaults(specs: tuple[ParameterSpec, ...] = PARAMETERS) -> dict[str, Any]:
    """Every parameter's default value, as the node declares it."""
    return {spec.name: spec.default for spec in specs}


def check_parameter_value(name: str, value: Any) -> None:
    """Raise InvalidSettingError if a value is not acceptable for a known detector parameter."""
    spec = SPECS.get(name)
    if spec is not None:
        spec.check(value)
