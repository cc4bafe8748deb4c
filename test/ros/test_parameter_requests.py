"""A set_parameters request checked against the table (yolo_trt_ros.ros.parameters), in-process.

Real rclpy Parameters against every parameter's default value, as a freshly started node holds
them; the node answers with the reason these give. A configured node's detector is a real ONNX
Runtime detector on the bundled model.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import RosHarness
from rcl_interfaces.msg import SetParametersResult
from rclpy.parameter import Parameter

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.ros.parameters import (
    answer_request,
    applies_later,
    check_request,
    deletion_refused,
)
from yolo_trt_ros.settings import defaults

CURRENT = defaults()


def test_deleting_a_parameter_is_refused_naming_it() -> None:
    kept = [Parameter("confidence_threshold", value=0.5)]
    assert deletion_refused(kept) == ""
    reason = deletion_refused([*kept, Parameter("model"), Parameter("classes")])
    assert reason == (
        "parameters of this node cannot be deleted (model, classes); set a value instead"
    )


def test_live_values_are_returned_and_the_others_only_checked() -> None:
    request = [
        Parameter("confidence_threshold", value=0.6),
        Parameter("iou_threshold", value=0.5),
        Parameter("model", value="/models/other.onnx"),
    ]
    live = check_request(request, CURRENT)
    assert live == {"confidence_threshold": 0.6, "iou_threshold": 0.5}
    assert check_request([Parameter("model", value="/m.onnx")], CURRENT) == {}


def test_a_bad_value_is_refused_naming_the_parameter() -> None:
    with pytest.raises(InvalidSettingError, match="confidence_threshold"):
        check_request([Parameter("confidence_threshold", value=1.5)], CURRENT)


def test_the_whole_configuration_is_checked_as_it_would_be() -> None:
    # each value fine on its own; together, two topics with one input type per topic missing
    two_topics = Parameter("image_topics", value=["/a/image", "/b/image"])
    assert check_request([two_topics], CURRENT) == {}
    with pytest.raises(InvalidSettingError, match="input_types"):
        check_request(
            [two_topics, Parameter("input_types", value=["raw", "compressed", "raw"])], CURRENT
        )


class Log:
    """A logger that keeps its lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    with Detector.from_model(backend="onnxruntime", device="cpu") as loaded:
        yield loaded


def answer(
    request: list[Parameter],
    detector: Detector | None,
    startup_errors: dict[str, str] | None = None,
) -> tuple[SetParametersResult, Log, list[object]]:
    log, calls = Log(), list[object]()
    result = answer_request(
        request,
        CURRENT,
        detector,
        {} if startup_errors is None else startup_errors,
        log,
        on_threshold=calls.append,
        on_diagnostics_period=calls.append,
    )
    return result, log, calls


def test_a_configured_node_applies_live_values_to_its_detector_at_once(detector: Detector) -> None:
    request = [Parameter("confidence_threshold", value=0.55), Parameter("model", value="/m.onnx")]
    result, log, calls = answer(request, detector)
    assert result.successful and detector.settings.conf == pytest.approx(0.55)
    assert calls == [detector]  # LabelInfo follows the threshold
    assert log.lines == [
        "applied confidence_threshold=0.55",
        "model will take effect on the next configure",
    ]
    assert applies_later(request, configured=True).startswith("stored; applies at the next")
    assert applies_later([Parameter("iou_threshold", value=0.5)], configured=True) == ""
    assert applies_later(request, configured=False) == ""


def test_an_unconfigured_node_stores_values_and_forgets_their_start_up_errors() -> None:
    errors = {"qos_depth": "parameter qos_depth: out of range", "model": "kept"}
    request = [Parameter("qos_depth", value=5), Parameter("diagnostics_period", value=2.0)]
    result, log, calls = answer(request, None, errors)
    assert result.successful and calls == [2.0]
    assert errors == {"model": "kept"} and log.lines == ["parameter qos_depth is valid again"]


def test_refused_requests_change_nothing(detector: Detector) -> None:
    errors = {"confidence_threshold": "refused at start-up"}
    before = detector.settings
    deleted, log, calls = answer([Parameter("confidence_threshold")], detector, errors)
    assert not deleted.successful and "cannot be deleted" in deleted.reason
    bad, log, calls = answer([Parameter("confidence_threshold", value=2.0)], detector, errors)
    assert not bad.successful and "confidence_threshold" in bad.reason
    assert detector.settings == before and errors and not log.lines and not calls


def test_topic_names_ros_cannot_use_are_refused_when_set_naming_them(ros: RosHarness) -> None:
    resolve = ros.node.resolve_topic_name  # rcl's own rules, with a real node's namespace
    for bad in ("bad name", "/p/{x}", "/p//q", "/1st/image", "/p/image/", "/p/ümlaut"):
        request = [Parameter("image_topics", value=[bad, "/p/b"])]
        with pytest.raises(InvalidSettingError) as caught:
            check_request(request, CURRENT, resolve)
        assert caught.value.parameter == "image_topics", bad
        assert f"{bad!r} is not a valid ROS topic name: " in str(caught.value), str(caught.value)
        assert " at /" not in str(caught.value)  # rcl's source location is left out
    fine = ["~/image", "camera/image", "/{node}/image", "/cam_1/image_raw"]
    assert check_request([Parameter("image_topics", value=fine)], CURRENT, resolve) == {}


def test_a_rate_cap_too_small_to_let_frames_through_is_refused() -> None:
    for tiny in (1e-300, 0.001):
        with pytest.raises(InvalidSettingError, match=r"max_rate_hz.*use 0 \(no cap\)"):
            check_request([Parameter("max_rate_hz", value=tiny)], CURRENT)
    for fine in (0.0, 0.01, 15.0):
        assert check_request([Parameter("max_rate_hz", value=fine)], CURRENT) == {}


def test_a_bool_is_not_a_class_filter() -> None:
    with pytest.raises(InvalidSettingError, match="classes"):
        check_request([Parameter("classes", value=True)], CURRENT)
    assert check_request([Parameter("classes", value=3)], CURRENT) == {}


def test_rclpys_own_parameters_apply_at_once_and_are_not_said_to_wait(detector: Detector) -> None:
    # rclpy's time source follows use_sim_time as soon as it is set: no "next configure"
    request = [Parameter("use_sim_time", value=True)]
    result, log, _ = answer(request, detector)
    assert result.successful and log.lines == []
    assert applies_later(request, configured=True) == ""
