"""The detector node's configure steps (yolo_trt_ros.ros.configure_steps), in-process without DDS.

Real settings, the real power-mode reader (over test/fake_nvpmodel.py where a Jetson is needed),
the real decoders and the bundled model through ONNX Runtime on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_nvpmodel import FakeNvpmodel
from rclpy.logging import get_logger

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.heap import HeapTuning
from yolo_trt_ros.jetson import Nvpmodel
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.ros import configure_steps
from yolo_trt_ros.ros.configure_steps import Note
from yolo_trt_ros.runtime_plan import NVRTC_MISSING, Machine
from yolo_trt_ros.settings import DetectorConfig

NANO_MODES = {0: "15W", 1: "25W", 2: "MAXN_SUPER", 3: "7W"}


def config(**values: Any) -> DetectorConfig:
    return DetectorConfig.from_values({"backend": "onnxruntime", "warmup_runs": 0, **values})


def test_power_mode_is_logged_louder_the_more_it_matters(tmp_path: Path) -> None:
    missing = Nvpmodel(str(tmp_path / "none" / "nvpmodel"), tmp_path / "no.conf", tmp_path / "no")
    check, note = configure_steps.power_mode(missing, config())
    assert "not a Jetson" in check.summary
    assert note == Note("debug", f"power mode: {check.summary}")  # nothing expected, nothing to see
    _, note = configure_steps.power_mode(missing, config(expected_power_modes=["7W"]))
    assert note.level == "info"

    fake = FakeNvpmodel(tmp_path / "bin", NANO_MODES, current=0)
    jetson = Nvpmodel(str(fake.directory / "nvpmodel"))
    check, note = configure_steps.power_mode(jetson, config())
    assert check.mode_name == "15W" and note.level == "info"
    check, note = configure_steps.power_mode(jetson, config(expected_power_modes=["7W"]))
    assert check.level == "WARN" and note == Note("warn", f"power mode: {check.summary}")
    assert fake.current == 0  # only read: set_power_mode is false
    check, _ = configure_steps.power_mode(
        jetson, config(expected_power_modes=["7W"], set_power_mode=True)
    )
    assert fake.current == 3 and check.mode_name == "7W"


def test_the_heap_is_tuned_once_and_only_when_asked() -> None:
    untouched = HeapTuning(False, "not applied yet")
    assert configure_steps.tune_heap(config(reuse_frame_memory=False), untouched) == (
        untouched,
        None,
    )
    tuned, note = configure_steps.tune_heap(config(reuse_frame_memory=True), untouched)
    assert tuned.applied and note == Note("info", f"frame memory: {tuned.detail}")
    again = configure_steps.tune_heap(config(reuse_frame_memory=True), tuned)
    assert again == (tuned, None)  # once per process


def test_a_decoder_is_chosen_only_for_compressed_topics() -> None:
    assert configure_steps.choose_decoder(config()) == (None, None)
    two = config(
        image_topics=["/a/image", "/b/image/compressed"], input_types=["raw", "compressed"]
    )
    choice, note = configure_steps.choose_decoder(two)
    assert choice is not None and note is not None
    assert note.text == f"compressed frames: {choice.decoder.name} ({choice.reason})"
    opencv, _ = configure_steps.choose_decoder(
        config(input_types=["compressed"], jpeg_decoder="opencv")
    )
    assert opencv is not None and opencv.decoder.name.startswith("opencv")


def test_int8_without_calibration_frames_runs_fp16_and_says_so() -> None:
    model, plan, notes = configure_steps.plan_runtime(config(precision="int8"))
    assert model == bundled_model_path() and plan.precision == "fp16"
    assert [note.level for note in notes] == ["warn", "info"]
    assert "needs calibration_dir" in notes[0].text
    assert notes[1].text.startswith("configuring: model bundled YOLO11n: ")
    assert plan.describe() in notes[1].text

    _, plan, notes = configure_steps.plan_runtime(config(precision="fp32", model="~/m.onnx"))
    assert plan.precision == "fp32" and [note.level for note in notes] == ["info"]
    assert notes[0].text.startswith("configuring: model ~/m.onnx: ")


def test_a_gpu_without_nvrtc_warns_that_tensorrt_runs_the_host_pipeline() -> None:
    tensorrt_no_nvrtc = Machine(cuda_devices=1, tensorrt=True)  # the GPU machine without libnvrtc
    _, plan, notes = configure_steps.plan_runtime(config(backend="auto"), tensorrt_no_nvrtc)
    assert (plan.backend, plan.pipeline) == ("tensorrt", "host")
    assert notes[0] == Note("warn", f"tensorrt runs the host pipeline: {NVRTC_MISSING}")
    _, _, notes = configure_steps.plan_runtime(config(backend="auto"), Machine())  # a CPU machine
    assert [note.level for note in notes] == ["info"]


def test_the_bundled_model_is_prepared_and_opened_with_the_configured_classes() -> None:
    settings = config(classes=["person", "bus"], confidence_threshold=0.4, warmup_runs=1)
    model, plan, _ = configure_steps.plan_runtime(settings)
    lines: list[str] = []
    prepared = configure_steps.prepare(settings, model, plan, lines.append)
    assert prepared.backend == "onnxruntime" and prepared.follow_up is None
    assert all(line.startswith("configuring") for line in lines)
    with configure_steps.open_configured(plan, prepared.path, settings) as detector:
        assert detector.backend.name == "onnxruntime"
        assert detector.settings.conf == pytest.approx(0.4)
        assert detector.settings.classes is not None
        assert sorted(detector.names[i] for i in detector.settings.classes) == ["bus", "person"]

    with pytest.raises(InvalidSettingError, match="no_such_class"):
        configure_steps.open_configured(
            plan, prepared.path, config(classes=["no_such_class"], warmup_runs=0)
        )


def test_notes_are_written_at_their_level() -> None:
    logged: list[tuple[str, str]] = []

    class Logger:  # records what the node's rclpy logger would be asked to write
        def __getattr__(self, level: str) -> Any:
            return lambda text: logged.append((level, text))

    for note in (Note("debug", "one"), Note("info", "two"), Note("warn", "three")):
        note.log(Logger())
    assert logged == [("debug", "one"), ("info", "two"), ("warn", "three")]
    rclpy_logger = get_logger("test_configure_steps")  # refuses two severities from one call site
    for note in (Note("debug", "one"), Note("info", "two"), Note("warn", "three")):
        note.log(rclpy_logger)
