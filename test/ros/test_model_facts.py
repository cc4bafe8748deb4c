"""What the node says it runs (yolo_trt_ros.ros.model_facts), in-process without DDS.

A real ONNX Runtime detector on the bundled YOLO11n and the real EngineInfo message; the facts
must describe that detector and how its model was prepared.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.manager import ExportRequest, PreparedModel
from yolo_trt_ros.heap import HeapTuning
from yolo_trt_ros.image_decoders import make_decoder
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros import model_facts

HEADER = Header(stamp=Time(sec=7), frame_id="")


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    with Detector.from_model(backend="onnxruntime", device="cpu") as loaded:
        yield loaded


def test_engine_info_describes_the_detector_and_its_preparation(detector: Detector) -> None:
    prepared = PreparedModel(
        bundled_model_path(),
        "onnxruntime",
        "fp32",
        None,
        cache_key="abc123",
        engine_path="/cache/abc123.engine",
        build_seconds=12.5,
        from_cache=True,
        optimization_level=3,
    )
    info = model_facts.engine_info(prepared, detector, "host", "15W", HEADER)
    assert isinstance(info, EngineInfo) and info.header == HEADER
    assert info.model == str(bundled_model_path())
    assert (info.backend, info.backend_version) == ("onnxruntime", detector.backend.version)
    assert (info.precision, info.device, info.pipeline) == ("fp32", "cpu", "host")
    assert list(info.input_shape) == [1, 3, *detector.input_size]
    assert len(info.class_names) == 80 and info.class_names[0] == "person"
    assert (info.engine_path, info.cache_key, info.optimization_level) == (
        "/cache/abc123.engine",
        "abc123",
        3,
    )
    assert info.build_seconds == pytest.approx(12.5) and info.from_cache
    assert info.power_mode == "15W"


def test_class_names_fill_a_gap_with_the_index() -> None:
    assert model_facts.class_names({0: "person", 2: "car"}) == ["person", "1", "car"]
    assert model_facts.class_names({}) == []


def test_the_facts_say_what_runs(detector: Detector) -> None:
    quick = PreparedModel(
        bundled_model_path(),
        "onnxruntime",
        "fp32",
        None,
        follow_up=ExportRequest(model=bundled_model_path()),
    )
    facts = model_facts.model_facts(quick, detector, pipeline="host", heap="kept", decoder=None)
    assert facts["backend"] == detector.backend.version and facts["device"] == "cpu"
    assert facts["pipeline"] == "host" and facts["output layout"] == detector.layout
    assert facts["input size"] == f"{detector.input_size[0]}x{detector.input_size[1]}"
    assert facts["engine"] == (
        "none (the backend runs the model file) (quick build; the optimised engine is being built "
        "in the background)"
    )
    assert facts["engine cache key"] == "none"
    assert facts["GPU memory"] == "n/a (CPU backend)"
    assert facts["frame memory reuse"] == "kept"
    assert facts["JPEG decoder"] == "none (no compressed topics)"

    built = PreparedModel(bundled_model_path(), "onnxruntime", "fp32", None, engine_path="/e")
    decoder = make_decoder("opencv", "cpu")
    facts = model_facts.model_facts(built, detector, pipeline="gpu", heap="", decoder=decoder)
    assert facts["pipeline"] == "GPU (letterbox, inference, decode, NMS on the GPU)"
    assert facts["engine"] == "/e"
    assert facts["JPEG decoder"] == f"{decoder.decoder.name} ({decoder.reason})"


def test_the_heap_fact_says_a_tuning_outlives_its_setting() -> None:
    tuned = HeapTuning(True, "frame buffers stay in the heap")
    untuned = HeapTuning(False, "not applied yet")
    assert model_facts.heap_fact(tuned, True) == "frame buffers stay in the heap"
    assert model_facts.heap_fact(tuned, False) == (
        "frame buffers stay in the heap (still: reuse_frame_memory was true earlier; restart to undo)"
    )
    assert model_facts.heap_fact(untuned, False) == "off (reuse_frame_memory: false)"


def test_label_info_goes_beside_each_camera_only_with_several() -> None:
    assert model_facts.label_topics(["front"]) == ["~/label_info"]
    assert model_facts.label_topics(["front", "rear"]) == [
        "~/label_info",
        "~/front/label_info",
        "~/rear/label_info",
    ]


def test_label_info_carries_the_classes_and_the_current_threshold(detector: Detector) -> None:
    labels = model_facts.label_info(detector, HEADER)
    assert labels.header == HEADER and labels.threshold == pytest.approx(detector.settings.conf)
    assert [(c.class_id, c.class_name) for c in labels.class_map][:2] == [
        (0, "person"),
        (1, "bicycle"),
    ]
