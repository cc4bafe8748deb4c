"""The parameter table as ROS parameter descriptors (``yolo_trt_ros.ros.parameters``)."""

from __future__ import annotations

from yolo_trt_ros.ros.parameters import descriptor_for
from yolo_trt_ros.settings import EXPORT_PARAMETERS, PARAMETERS


def test_every_parameter_is_documented() -> None:
    for spec in PARAMETERS:
        descriptor = descriptor_for(spec)
        assert len(descriptor.description) > 20, spec.name
        if spec.choices:
            assert spec.default in spec.choices and all(
                c in descriptor.description for c in spec.choices
            )


def test_descriptors_carry_the_ranges_and_list_typing() -> None:
    specs = {spec.name: spec for spec in PARAMETERS}
    qos_depth = descriptor_for(specs["qos_depth"]).integer_range[0]
    assert (qos_depth.from_value, qos_depth.to_value) == (1, 100)
    period = descriptor_for(specs["diagnostics_period"]).floating_point_range[0]
    assert (period.from_value, period.to_value) == (0.1, 60.0)
    assert descriptor_for(specs["classes"]).dynamic_typing
    assert not descriptor_for(specs["model"]).dynamic_typing
    (export_size,) = [spec for spec in EXPORT_PARAMETERS if spec.name == "image_size"]
    assert descriptor_for(export_size).dynamic_typing
