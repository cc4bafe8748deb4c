"""The optimised engine built in the background and swapped in (yolo_trt_ros.ros.engine_swap).

Real ONNX Runtime detectors on the bundled YOLO11n stand for the quick and the optimised engine;
the build is a function the test controls, so a release can come at each point of it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.manager import PreparedModel
from yolo_trt_ros.errors import BuildCancelledError
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.ros.engine_swap import DetectorSlot, EngineSwap

PREPARED = PreparedModel(
    path=bundled_model_path(), backend="onnxruntime", precision="fp32", onnx_path=None
)
FRAME = np.zeros((64, 64, 3), np.uint8)


class Log:
    """Keeps what the swap logs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, text: str) -> None:
        self.lines.append(("info", text))

    def warn(self, text: str) -> None:
        self.lines.append(("warn", text))


def load(path: Path) -> Detector:
    return Detector.from_model(path, backend="onnxruntime", device="cpu")


def closed(detector: Detector) -> bool:
    try:
        detector(FRAME)
    except Exception:  # noqa: BLE001 - a closed backend has no session to run
        return True
    return False


def built(cancel: threading.Event) -> PreparedModel:
    return PREPARED


@pytest.fixture
def slot() -> DetectorSlot:
    slot = DetectorSlot()
    slot.put(load(PREPARED.path))
    return slot


def test_the_optimised_engine_replaces_the_quick_one_keeping_live_settings(
    slot: DetectorSlot,
) -> None:
    quick = slot.detector
    assert quick is not None
    quick.update_settings(conf=0.61)  # a live parameter change while the build ran
    swapped: list[tuple[PreparedModel, Detector]] = []
    log = Log()
    swap = EngineSwap(slot, log)
    swap.start(built, load, lambda prepared, detector: swapped.append((prepared, detector)))
    swap.join(60)
    assert slot.detector is not quick and slot.detector is not None
    assert swapped == [(PREPARED, slot.detector)]
    assert slot.detector.settings.conf == pytest.approx(0.61)
    assert closed(quick) and not closed(slot.detector)
    assert any("switched to the optimised engine" in text for _, text in log.lines)


def test_a_release_during_the_build_voids_it_before_loading(slot: DetectorSlot) -> None:
    quick, building, release = slot.detector, threading.Event(), threading.Event()
    opened: list[Path] = []

    def slow_build(cancel: threading.Event) -> PreparedModel:
        building.set()
        release.wait(10)
        return PREPARED

    def open_detector(path: Path) -> Detector:
        opened.append(path)
        return load(path)

    swap = EngineSwap(slot, Log())
    swap.start(slow_build, open_detector, lambda *_: None)
    assert building.wait(10)
    slot.void()
    release.set()
    swap.join(60)
    assert slot.detector is quick and opened == []


def test_a_release_while_loading_closes_the_new_engine(slot: DetectorSlot) -> None:
    quick = slot.detector
    loaded: list[Detector] = []

    def load_then_released(path: Path) -> Detector:
        loaded.append(load(path))
        slot.void()  # cleanup came while the optimised engine was being opened
        return loaded[0]

    swap = EngineSwap(slot, Log())
    swap.start(built, load_then_released, lambda *_: pytest.fail("no swap after a release"))
    swap.join(60)
    assert slot.detector is quick and quick is not None and not closed(quick)
    assert closed(loaded[0])


def test_a_failed_build_keeps_the_quick_engine_and_says_so(slot: DetectorSlot) -> None:
    quick, log = slot.detector, Log()

    def failing(cancel: threading.Event) -> PreparedModel:
        raise RuntimeError("TensorRT ran out of workspace")

    swap = EngineSwap(slot, log)
    swap.start(failing, load, lambda *_: None)
    swap.join(60)
    assert slot.detector is quick
    assert (
        "warn",
        "optimising in the background failed (RuntimeError: TensorRT ran out of "
        "workspace); the node keeps the quick engine",
    ) in log.lines


def test_stop_cancels_a_running_build_quietly(slot: DetectorSlot) -> None:
    quick, log, building = slot.detector, Log(), threading.Event()

    def until_cancelled(cancel: threading.Event) -> PreparedModel:
        building.set()
        if cancel.wait(30):
            raise BuildCancelledError("cancelled")
        return PREPARED

    swap = EngineSwap(slot, log)
    swap.start(until_cancelled, load, lambda *_: None)
    assert building.wait(10)
    swap.stop()
    assert slot.detector is quick
    assert [level for level, _ in log.lines] == ["info", "info"]  # started, stopping: no warning
    assert "stopping the background engine build" in log.lines[-1][1]


def test_take_empties_the_slot(slot: DetectorSlot) -> None:
    held = slot.detector
    assert slot.take() is held and slot.detector is None and slot.take() is None
