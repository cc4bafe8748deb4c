"""The node's model (yolo_trt_ros.ros.model_in_use): loaded, failing to load, released.

In-process without DDS: the bundled YOLO11n through ONNX Runtime on the CPU, rclpy's logger, and
the power-mode reader pointed where no nvpmodel is (a machine that is not a Jetson).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rclpy.logging import get_logger
from std_msgs.msg import Header

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.jetson import Nvpmodel
from yolo_trt_ros.ros.model_in_use import ModelInUse
from yolo_trt_ros.settings import DetectorConfig


def config(**values: Any) -> DetectorConfig:
    return DetectorConfig.from_values({"backend": "onnxruntime", "warmup_runs": 0, **values})


@pytest.fixture
def model(tmp_path: Path) -> ModelInUse:
    nowhere = Nvpmodel(str(tmp_path / "nvpmodel"), tmp_path / "conf", tmp_path / "status")
    return ModelInUse(get_logger("test_model_in_use"), nowhere)


def test_load_puts_the_configured_detector_in_the_slot_and_release_closes_it(
    model: ModelInUse,
) -> None:
    assert model.detector is None and model.plan is None
    settings = config(input_types=["compressed"], confidence_threshold=0.3)
    prepared, detector = model.load(settings)
    assert model.detector is detector and model.slot.detector is detector
    assert prepared.follow_up is None
    assert model.config is settings and model.plan is not None
    assert model.plan.backend == "onnxruntime" and detector.settings.conf == pytest.approx(0.3)
    assert model.decoder is not None  # a compressed topic
    assert model.power_check is not None and "not a Jetson" in model.power_check.summary
    facts = model.facts(prepared, detector)
    assert facts["backend"] == detector.backend.version and facts["pipeline"] == "host"
    assert facts["JPEG decoder"] == f"{model.decoder.decoder.name} ({model.decoder.reason})"
    assert facts["frame memory reuse"] == model.heap.detail  # reuse_frame_memory: true
    info = model.engine_info(prepared, detector, Header(frame_id="x"))
    assert (info.backend, info.pipeline, info.power_mode) == ("onnxruntime", "host", "")
    assert info.header.frame_id == "x" and len(info.class_names) == 80
    model.optimise_in_background(prepared, lambda *_: pytest.fail("no follow-up to build"))
    model.join_background(timeout=1)

    model.release()
    assert model.detector is None and model.plan is None and model.decoder is None
    assert model.config is settings  # kept: the node still reads its QoS and size limits
    assert model.power_check is not None  # kept for diagnostics
    blank = np.zeros((*detector.input_size, 3), np.uint8)
    with pytest.raises(RuntimeError, match="is closed"):
        detector(blank)


def test_a_failed_load_leaves_the_slot_empty_and_the_last_config(model: ModelInUse) -> None:
    good = config()
    model.load(good)
    model.release()
    with pytest.raises(InvalidSettingError, match="no_such_class"):
        model.load(config(classes=["no_such_class"], input_types=["compressed"]))
    assert model.detector is None
    assert model.config is good  # only a successful load replaces it
    assert model.decoder is not None  # chosen before the model: release clears it
    model.release()
    assert model.decoder is None
