"""What the node runs, as EngineInfo and as the detector's diagnostics facts; where LabelInfo goes.

Built after configure and again after a background engine swap (yolo_trt_ros.ros.engine_swap);
the messages themselves are built by yolo_trt_ros.ros.messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from std_msgs.msg import Header
from vision_msgs.msg import LabelInfo

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.manager import PreparedModel
from yolo_trt_ros.heap import HeapTuning
from yolo_trt_ros.image_decoders import DecoderChoice
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros import diagnostics, messages

__all__ = [
    "class_names",
    "engine_info",
    "heap_fact",
    "label_info",
    "label_topics",
    "model_facts",
]


def class_names(names: dict[int, str]) -> list[str]:
    """List the class names by index from 0 (a missing index is named by its number)."""
    return [names.get(i, str(i)) for i in range(max(names, default=-1) + 1)]


def engine_info(
    prepared: PreparedModel, detector: Detector, pipeline: str, power_mode: str, header: Header
) -> EngineInfo:
    """Describe the detector in use and how its model was prepared."""
    return messages.engine_info(
        header=header,
        model=str(prepared.path),
        backend=detector.backend.name,
        backend_version=detector.backend.version,
        precision=prepared.precision,
        device=detector.backend.device,
        pipeline=pipeline,
        optimization_level=prepared.optimization_level,
        input_shape=[1, 3, *detector.input_size],
        class_names=class_names(detector.names),
        engine_path=prepared.engine_path,
        cache_key=prepared.cache_key,
        build_seconds=prepared.build_seconds,
        from_cache=prepared.from_cache,
        power_mode=power_mode,
    )


def label_info(detector: Detector, header: Header) -> LabelInfo:
    """LabelInfo: the detector's classes and its current confidence threshold."""
    return messages.label_info(detector.names, header, detector.settings.conf)


def heap_fact(heap: HeapTuning, reuse_frame_memory: bool) -> str:
    """Say whether frame memory is reused; the tuning outlives a configure that turns it off."""
    if heap.applied and not reuse_frame_memory:
        return f"{heap.detail} (still: reuse_frame_memory was true earlier; restart to undo)"
    if not reuse_frame_memory:
        return "off (reuse_frame_memory: false)"
    return heap.detail


def model_facts(
    prepared: PreparedModel,
    detector: Detector,
    *,
    pipeline: str,
    heap: str,
    decoder: DecoderChoice | None,
) -> dict[str, object]:
    """Return the detector status's facts (yolo_trt_ros.ros.diagnostics.detector_status)."""
    engine = prepared.engine_path or "none (the backend runs the model file)"
    if prepared.follow_up is not None:
        engine += " (quick build; the optimised engine is being built in the background)"
    return {
        "model": str(prepared.path),
        "backend": detector.backend.version,
        "device": detector.backend.device,
        "precision": prepared.precision,
        "pipeline": "GPU (letterbox, inference, decode, NMS on the GPU)"
        if pipeline == "gpu"
        else "host",
        "input size": f"{detector.input_size[0]}x{detector.input_size[1]}",
        "output layout": detector.layout,
        "engine": engine,
        "engine cache key": prepared.cache_key or "none",
        "GPU memory": diagnostics.gpu_memory(detector.backend.device),
        "frame memory reuse": heap,
        "JPEG decoder": f"{decoder.decoder.name} ({decoder.reason})"
        if decoder
        else "none (no compressed topics)",
    }


def label_topics(cameras: Sequence[str]) -> list[str]:
    """Return LabelInfo's topics: ~/label_info, and with several cameras ~/<camera>/label_info."""
    return ["~/label_info"] + [f"~/{name}/label_info" for name in cameras if len(cameras) > 1]
