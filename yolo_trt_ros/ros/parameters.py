"""The parameter table (``yolo_trt_ros.settings.table``) in ROS terms: parameter descriptors.

A spec's description, allowed values and range become its ``ParameterDescriptor``, so
``ros2 param describe`` explains each parameter; validation stays in ``yolo_trt_ros.settings``.
"""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from yolo_trt_ros.settings.table import ParameterSpec

__all__ = ["descriptor_for"]


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
