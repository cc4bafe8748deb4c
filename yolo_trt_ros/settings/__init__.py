"""The package's settings, free of ROS: the parameter table, value types and validated configs.

``table`` lists every parameter of the nodes once; ``values`` parses device, precision and image
size; ``config`` builds the detector's validated settings from the table; ``derived`` works out
class ids and camera names. The ROS nodes adapt the table to rclpy (``ros/parameters.py``); the
launch files and power-mode profiles check against it directly.
"""

from yolo_trt_ros.settings.config import DetectorConfig
from yolo_trt_ros.settings.derived import camera_names_for, resolve_classes
from yolo_trt_ros.settings.table import (
    APPLIED_AT_ONCE,
    EXPORT_PARAMETERS,
    EXPORT_SPECS,
    LIVE_PARAMETERS,
    PARAMETERS,
    SPECS,
    ParameterSpec,
    check_parameter_value,
    defaults,
)
from yolo_trt_ros.settings.values import Device, ImageSize, check_precision_on

__all__ = [
    "APPLIED_AT_ONCE",
    "EXPORT_PARAMETERS",
    "EXPORT_SPECS",
    "LIVE_PARAMETERS",
    "PARAMETERS",
    "SPECS",
    "DetectorConfig",
    "Device",
    "ImageSize",
    "ParameterSpec",
    "camera_names_for",
    "check_parameter_value",
    "check_precision_on",
    "defaults",
    "resolve_classes",
]
