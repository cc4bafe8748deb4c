"""The parameter table (``yolo_trt_ros.settings.table``): what applies when, and agreement with code."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO_ROOT

from yolo_trt_ros.engine.cache import POLICIES
from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.runtime_plan import PIPELINE_CHOICES
from yolo_trt_ros.settings import (
    APPLIED_AT_ONCE,
    EXPORT_SPECS,
    LIVE_PARAMETERS,
    PARAMETERS,
    SPECS,
    DetectorConfig,
    check_parameter_value,
    defaults,
)


def test_live_parameters_map_to_the_detector_settings_they_change() -> None:
    assert dict(LIVE_PARAMETERS) == {
        "confidence_threshold": "conf",
        "iou_threshold": "iou",
        "max_detections": "max_det",
        "agnostic_nms": "agnostic",
    }
    assert frozenset({*LIVE_PARAMETERS, "diagnostics_period"}) == APPLIED_AT_ONCE


def test_choices_agree_with_the_code_that_reads_them() -> None:
    assert SPECS["pipeline"].choices == PIPELINE_CHOICES
    assert SPECS["engine_cache_policy"].choices == POLICIES
    assert EXPORT_SPECS["engine_cache_policy"].choices == POLICIES


def test_both_nodes_share_the_names_of_shared_settings() -> None:
    shared = {"model", "precision", "device", "engine_cache_dir", "engine_cache_policy"}
    assert shared <= set(SPECS) and shared <= set(EXPORT_SPECS)


def test_defaults_are_the_declared_values() -> None:
    values = defaults()
    assert values["image_topics"] == ["image"] and values["classes"] is None
    assert set(values) == set(SPECS)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "confidence_threshold",
            float("inf"),
            "parameter confidence_threshold: inf is not a number",
        ),
        ("backend", "openvino", "'openvino' is not one of auto, tensorrt"),
        ("qos_depth", 0, r"qos_depth: 0 is outside \[1, 100\]"),
        ("max_rate_hz", 1e6, r"outside \[0.0, 1000.0\]"),
    ],
)
def test_values_are_checked_against_their_spec(name: str, value: object, message: str) -> None:
    with pytest.raises(InvalidSettingError, match=message) as error:
        check_parameter_value(name, value)
    assert error.value.parameter == name


def test_unknown_names_and_good_values_pass() -> None:
    check_parameter_value("no_such_parameter", float("nan"))
    check_parameter_value("qos_depth", 100)
    check_parameter_value("backend", "torch")


def test_the_shipped_params_file_lists_every_parameter_with_its_default() -> None:
    text = (REPO_ROOT / "config" / "detector.yaml").read_text()
    values = yaml.safe_load(text)["/**"]["ros__parameters"]
    # autostart is left unset so that detect.launch.py's default (true) applies with this file
    for spec in PARAMETERS:
        if spec.default is None or spec.name == "autostart":
            assert f"# {spec.name}:" in text, f"{spec.name} is not documented"
            assert spec.name not in values, f"{spec.name} is set"
        else:
            assert values[spec.name] == spec.default, spec.name
    assert set(values) <= {spec.name for spec in PARAMETERS}
    assert DetectorConfig.from_values(values) == DetectorConfig()
