"""The detector's validated settings (``yolo_trt_ros.settings.config``)."""

from __future__ import annotations

from typing import Any

import pytest

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings import PARAMETERS, DetectorConfig


def test_the_defaults_are_valid_and_are_the_tables() -> None:
    defaults = DetectorConfig.from_values({spec.name: spec.default for spec in PARAMETERS})
    assert defaults == DetectorConfig()
    assert {spec.name for spec in PARAMETERS} == set(DetectorConfig.__dataclass_fields__)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confidence_threshold": float("nan")}, "not a number"),
        ({"iou_threshold": 1.5}, "outside"),
        ({"backend": "openvino"}, "not one of"),
        ({"device": "gpu"}, "device"),
        ({"image_size": 500}, "multiple of 32"),
        ({"image_topics": []}, "at least one"),
        ({"image_topics": ["/a", "/a"]}, "twice"),
        ({"image_topics": ["/a", "/b"], "input_types": ["raw", "raw", "raw"]}, "one per topic"),
        ({"input_types": ["h264"]}, "raw or compressed"),
        ({"image_topics": ["/a", "/b"], "camera_names": ["left"]}, "one name per topic"),
        ({"image_topics": ["/a", "/b"], "camera_names": ["x", "x"]}, "unique"),
        ({"camera_names": ["front-left"]}, "not valid"),
        ({"classes": [1.5]}, "class names or indices"),
        ({"qos_depth": 0}, "outside"),
        ({"max_rate_hz": -1.0}, "outside"),
        ({"expected_power_modes": ["15 W"]}, "not nvpmodel mode names"),
        ({"expected_power_modes": [15]}, "list of strings"),
    ],
)
def test_bad_configurations_name_the_parameter(changes: dict[str, Any], message: str) -> None:
    values = {spec.name: spec.default for spec in PARAMETERS} | changes
    with pytest.raises(InvalidSettingError, match=message) as error:
        DetectorConfig.from_values(values)
    assert "parameter " in str(error.value)


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"iou_threshold": 1.5}, "iou_threshold"),
        ({"device": "gpu"}, "device"),
        ({"image_size": 500}, "image_size"),
        ({"image_topics": ["/a", "/b"], "input_types": ["raw", "raw", "raw"]}, "input_types"),
        ({"camera_names": ["front-left"]}, "camera_names"),
        ({"classes": [1.5]}, "classes"),
        ({"expected_power_modes": [15]}, "expected_power_modes"),
    ],
)
def test_errors_carry_the_parameter_name(changes: dict[str, Any], parameter: str) -> None:
    values = {spec.name: spec.default for spec in PARAMETERS} | changes
    with pytest.raises(InvalidSettingError) as error:
        DetectorConfig.from_values(values)
    assert error.value.parameter == parameter
