"""YOLO11 object detection for ROS 2, on TensorRT where it exists and ONNX Runtime elsewhere.

Kept import-light on purpose: the rosidl-generated ``yolo_trt_ros.msg`` and
``yolo_trt_ros.action`` modules live in this package too, so every message import runs this file.
"""

from yolo_trt_ros.errors import YoloTrtRosError

__version__ = "0.1.0"

__all__ = ["YoloTrtRosError", "__version__"]
