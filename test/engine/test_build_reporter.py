"""TensorRT's build log turned into progress lines (yolo_trt_ros.engine.tensorrt_build._BuildReporter).

TensorRT is not installed on the CI machine, so the module handed to the reporter is a stand-in
with only what the reporter touches: ``ILogger`` and its ``Severity`` values (those of TensorRT's
``ILogger.Severity``: lower is more severe). The log lines are ones TensorRT 8.6 printed on the GPU
machine.
"""

from __future__ import annotations

import enum
import types

import pytest

from yolo_trt_ros.engine import tensorrt_build
from yolo_trt_ros.engine.tensorrt_build import _BuildReporter


class _Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class _ILogger:
    Severity = _Severity

    def __init__(self) -> None:
        pass


STAND_IN_TENSORRT = types.SimpleNamespace(ILogger=_ILogger)


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float, str]]:
    monkeypatch.setattr(tensorrt_build, "_FORWARD_S", 0.0)  # pass on every line
    return []


def test_lines_before_any_layer_is_timed_carry_no_layer_count(
    lines: list[tuple[str, float, str]],
) -> None:
    reporter = _BuildReporter(STAND_IN_TENSORRT, lambda *line: lines.append(line))
    reporter.log(_Severity.INFO, "[MemUsageChange] Init CUDA: CPU +23, GPU +0, now: CPU 36")
    reporter.layers = 752  # parsed; a level-0 build then times no layer at all
    reporter.log(_Severity.INFO, "Total Host Persistent Memory: 509216")
    assert [message for _, _, message in lines] == [
        "[MemUsageChange] Init CUDA: CPU +23, GPU +0, now: CPU 36",
        "Total Host Persistent Memory: 509216",
    ]
    assert all(percent == 0.0 for _, percent, _ in lines)


def test_timed_layers_are_counted_once_and_give_the_percentage(
    lines: list[tuple[str, float, str]],
) -> None:
    reporter = _BuildReporter(STAND_IN_TENSORRT, lambda *line: lines.append(line))
    reporter.layers = 4
    for layer in ("/model.0/conv/Conv", "/model.0/conv/Conv", "/model.1/conv/Conv"):
        reporter.log(_Severity.VERBOSE, f"Computing costs for {layer}")
    reporter.log(_Severity.VERBOSE, "a verbose line that says nothing about timing")
    assert lines[-1] == ("build", 50.0, "2 of ~4 layers timed; timing /model.1/conv/Conv")
    assert len(lines) == 3  # the verbose line without timing is not passed on
