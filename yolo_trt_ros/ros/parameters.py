"""The parameter table (``yolo_trt_ros.settings.table``) in ROS terms: descriptors and requests.

A spec's description, allowed values and range become its ``ParameterDescriptor``, so
``ros2 param describe`` explains each parameter; validation stays in ``yolo_trt_ros.settings``,
and a ``set_parameters`` request is checked against it before the node takes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.parameter import Parameter

from yolo_trt_ros.settings import LIVE_PARAMETERS, DetectorConfig, check_parameter_value
from yolo_trt_ros.settings.table import ParameterSpec

__all__ = ["check_request", "deletion_refused", "descriptor_for"]


def descriptor_for(spec: ParameterSpec) -> ParameterDescriptor:
    """Build the ROS parameter descriptor (description, allowed values, range) for a spec."""
    notes = f" One of: {', '.join(spec.choices)}." if spec.choices else ""
    descriptor = ParameterDescriptor(
        description=spec.description + notes, dynamic_typing=spec.dynamic_typing
    )
    if spec.int_range:
        descriptor.integer_range = [
            IntegerRange(from_value=spec.int_range[0], to_value=spec.int_range[1], step=0)
        ]
    if spec.float_range:
        descriptor.floating_point_range = [
            FloatingPointRange(
                from_value=spec.float_range[0], to_value=spec.float_range[1], step=0.0
            )
        ]
    return descriptor


def deletion_refused(parameters: Sequence[Parameter]) -> str:
    """Return why a request deleting parameters is refused ('' when it deletes none)."""
    deleted = [p.name for p in parameters if p.type_ == Parameter.Type.NOT_SET]
    if not deleted:  # else rclpy would undeclare them, and every later configure would fail
        return ""
    return f"parameters of this node cannot be deleted ({', '.join(deleted)}); set a value instead"


def check_request(parameters: Sequence[Parameter], current: Mapping[str, Any]) -> dict[str, Any]:
    """Check each value, then the whole configuration as it would be; return the live values set.

    Raises InvalidSettingError naming the parameter: what configure would refuse (lists, device,
    image size, topics) is refused now. ``current``: every parameter's value before the request.
    """
    for parameter in parameters:
        check_parameter_value(parameter.name, parameter.value)
    values = dict(current)
    values.update({p.name: p.value for p in parameters if p.name in values})
    DetectorConfig.from_values(values)
    return {p.name: p.value for p in parameters if p.name in LIVE_PARAMETERS}
