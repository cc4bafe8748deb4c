"""The detection algorithm without ROS, TensorRT, torch or Ultralytics: NumPy and OpenCV only."""

from yolo_trt_ros.core.decode import (
    DECODERS,
    DecodeSettings,
    RawDetections,
    decode,
    detect_output_layout,
)
from yolo_trt_ros.core.detections import Detection, Detections
from yolo_trt_ros.core.letterbox import LetterboxGeometry, compute_letterbox, normalize_size
from yolo_trt_ros.core.metadata import ModelMetadata, parse_ultralytics_metadata
from yolo_trt_ros.core.nms import box_iou, nms
from yolo_trt_ros.core.preprocess import PIXEL_FORMATS, Preprocessor, guess_pixel_format

__all__ = [
    "DECODERS",
    "PIXEL_FORMATS",
    "DecodeSettings",
    "Detection",
    "Detections",
    "LetterboxGeometry",
    "ModelMetadata",
    "Preprocessor",
    "RawDetections",
    "box_iou",
    "compute_letterbox",
    "decode",
    "detect_output_layout",
    "guess_pixel_format",
    "nms",
    "normalize_size",
    "parse_ultralytics_metadata",
]
