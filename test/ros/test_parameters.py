"""The parameter table as ROS parameter descriptors (``yolo_trt_ros.ros.parameters``).

Declaring them is tested on a real rclpy node in this process.
"""

from __future__ import annotations

from conftest import RosHarness
from rclpy.node import Node
from rclpy.parameter import Parameter

from yolo_trt_ros.ros.parameters import declare_all, descriptor_for
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


def test_a_bad_start_up_override_keeps_the_default_and_is_reported(ros: RosHarness) -> None:
    node = Node(
        "declare_test",
        context=ros.context,
        parameter_overrides=[
            Parameter("qos_depth", value=1000),  # out of range
            Parameter("model", value=5),  # wrong type
            Parameter("confidence_threshold", value=0.4),  # fine
        ],
    )
    try:
        errors = declare_all(node)
        assert sorted(errors) == ["model", "qos_depth"]
        assert errors["qos_depth"].startswith("parameter qos_depth: ")
        specs = {spec.name: spec for spec in PARAMETERS}
        assert node.get_parameter("qos_depth").value == specs["qos_depth"].default
        assert node.get_parameter("model").value == specs["model"].default
        assert node.get_parameter("confidence_threshold").value == 0.4
        assert all(node.has_parameter(name) for name in specs)
    finally:
        node.destroy_node()
