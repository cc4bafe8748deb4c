"""Detections and model facts as ROS messages: Detection2DArray, LabelInfo, EngineInfo, timing."""

from __future__ import annotations

from collections.abc import Sequence

from builtin_interfaces.msg import Time
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    LabelInfo,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    VisionClass,
)

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.msg import EngineInfo, InferenceTiming

__all__ = [
    "class_labels",
    "detection_array",
    "engine_info",
    "inference_timing",
    "label_info",
    "time_from_ns",
]


def time_from_ns(nanoseconds: int) -> Time:
    """Convert integer nanoseconds to a builtin_interfaces/Time."""
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def class_labels(detections: Detections, class_id_style: str = "name") -> list[str]:
    """Return each detection's ObjectHypothesis.class_id: its class name, or its index as text."""
    ids = detections.class_ids.tolist()
    if class_id_style == "name":
        return [detections.name_of(class_id) for class_id in ids]
    return [str(class_id) for class_id in ids]


def detection_array(
    detections: Detections, header: Header, class_id_style: str = "name"
) -> Detection2DArray:
    """Convert detections (original image pixels) to a Detection2DArray stamped like the image."""
    out = Detection2DArray(header=header)
    boxes, scores = detections.boxes.tolist(), detections.scores.tolist()
    labels = class_labels(detections, class_id_style)
    for (x1, y1, x2, y2), score, label in zip(boxes, scores, labels, strict=True):
        bbox = BoundingBox2D(size_x=x2 - x1, size_y=y2 - y1)
        bbox.center.position.x, bbox.center.position.y = (x1 + x2) / 2, (y1 + y2) / 2
        hypothesis = ObjectHypothesisWithPose(
            hypothesis=ObjectHypothesis(class_id=label, score=score)
        )
        out.detections.append(Detection2D(header=header, results=[hypothesis], bbox=bbox))
    return out


def label_info(names: dict[int, str], header: Header, threshold: float) -> LabelInfo:
    """Build the class map (index -> name) and threshold message for vision_msgs consumers."""
    classes = [
        VisionClass(class_id=index, class_name=name) for index, name in sorted(names.items())
    ]
    return LabelInfo(header=header, class_map=classes, threshold=float(threshold))


def engine_info(
    *,
    header: Header,
    model: str,
    backend: str,
    backend_version: str,
    precision: str,
    device: str,
    input_shape: Sequence[int],
    class_names: Sequence[str],
    pipeline: str = "host",
    optimization_level: int = -1,
    engine_path: str = "",
    cache_key: str = "",
    build_seconds: float = 0.0,
    from_cache: bool = False,
    power_mode: str = "",
) -> EngineInfo:
    """Describe what the node runs; published once per configure (transient local)."""
    return EngineInfo(
        header=header,
        model=model,
        backend=backend,
        backend_version=backend_version,
        engine_path=engine_path,
        cache_key=cache_key,
        precision=precision,
        device=device,
        pipeline=pipeline,
        optimization_level=int(optimization_level),
        input_shape=[int(d) for d in input_shape],
        build_seconds=float(build_seconds),
        from_cache=from_cache,
        power_mode=power_mode,
        class_names=list(class_names),
    )


def inference_timing(
    header: Header,
    receive_ns: int,
    stages_ms: tuple[float, float, float],
    total_ms: float,
    dropped: int,
) -> InferenceTiming:
    """Per-frame stage times: preprocess (incl. decoding the message), inference, postprocess."""
    preprocess, inference, postprocess = stages_ms
    return InferenceTiming(
        header=header,
        receive_time=time_from_ns(receive_ns),
        preprocess_ms=float(preprocess),
        inference_ms=float(inference),
        postprocess_ms=float(postprocess),
        total_ms=float(total_ms),
        frames_dropped=int(dropped),
    )
