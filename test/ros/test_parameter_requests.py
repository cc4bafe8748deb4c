"""A set_parameters request checked against the table (yolo_trt_ros.ros.parameters), in-process.

Real rclpy Parameters against every parameter's default value, as a freshly started node holds
them; the node answers with the reason these give.
"""

from __future__ import annotations

import pytest
from rclpy.parameter import Parameter

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.ros.parameters import check_request, deletion_refused
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
