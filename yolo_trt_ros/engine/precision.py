"""Precision lives in the ONNX: FP16 by conversion, INT8 as explicit Q/DQ from calibration images.

TensorRT 11 removes the FP16/INT8 builder flags and the calibrators: networks are strongly typed,
so the ONNX itself must say FP16 or carry Q/DQ nodes. The same files also run in ONNX Runtime,
which is how their accuracy is checked on a machine without TensorRT.

Why these libraries: ONNX Runtime's FP16 converter and its static QDQ quantizer (INT8) need only
onnx, sympy and onnxruntime, which the package already uses. NVIDIA ModelOpt does both as well,
but pulls in torch and onnxruntime-gpu: gigabytes for a step that runs once per model.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.core.preprocess import Preprocessor
from yolo_trt_ros.errors import BackendNotAvailableError, InvalidSettingError, ModelLoadError

__all__ = [
    "CALIBRATION_SUFFIXES",
    "CalibrationReader",
    "calibration_images",
    "calibration_sha256",
    "convert_fp16",
    "convs_to_keep_in_float",
    "import_onnx",
    "quantize_int8",
]

CALIBRATION_SUFFIXES: Final = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def calibration_images(folder: Path, limit: int = 500) -> list[Path]:
    """List the image files of a calibration folder, in name order (at most ``limit``)."""
    if not folder.is_dir():
        raise InvalidSettingError(f"calibration folder {folder} does not exist")
    # regular files only: a folder or a FIFO named like an image must not fail or block the read
    images = (p for p in folder.iterdir() if p.suffix.lower() in CALIBRATION_SUFFIXES)
    files = sorted(p for p in images if p.is_file())[:limit]
    if not files:
        raise InvalidSettingError(
            f"calibration folder {folder} holds no images ({', '.join(sorted(CALIBRATION_SUFFIXES))})"
        )
    return files


def calibration_sha256(files: Sequence[Path], method: str = "") -> str:
    """One hash over the calibration files' names and bytes: a different set means a different engine.

    ``method`` (TensorRT's calibrator, where TensorRT calibrates) is hashed too: another
    calibrator gives another engine from the same images.
    """
    digest = hashlib.sha256(method.encode() + b"\0" if method else b"")
    for path in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def import_onnx() -> Any:
    """Import the onnx package (engine preparation only), or say what to install."""
    try:
        return importlib.import_module("onnx")
    except ImportError as error:
        raise BackendNotAvailableError(
            f"preparing engines needs the onnx package ({error}): pip install onnx "
            "(not needed to run a model or engine that is already prepared)"
        ) from None


def _load_onnx(path: Path) -> Any:
    onnx = import_onnx()
    try:
        return onnx.load(str(path))
    except Exception as error:
        raise ModelLoadError(f"cannot read {path} as ONNX: {error}") from error


def convert_fp16(source: Path, target: Path) -> Path:
    """Write an FP16 copy of an ONNX model whose inputs and outputs stay FP32.

    Keeping the I/O in FP32 means the pre- and post-processing do not change; the model casts at
    its edges. Uses ONNX Runtime's converter, which re-infers shapes symbolically (with sympy):
    onnxconverter-common's produces invalid graphs for YOLO's Resize and Cast nodes.
    """
    import onnx  # noqa: PLC0415 - export-time dependencies, never on the detection path
    from onnxruntime.transformers.onnx_model import OnnxModel  # noqa: PLC0415

    model = OnnxModel(_load_onnx(source))
    model.convert_float_to_float16(keep_io_types=True)
    onnx.save(model.model, str(target))
    return target


class CalibrationReader:
    """Feeds letterboxed calibration images, one batch of one at a time (ONNX Runtime's reader API)."""

    def __init__(self, files: Sequence[Path], input_name: str, image_size: tuple[int, int]) -> None:
        self._files = list(files)
        self._input_name = input_name
        self._preprocess = Preprocessor(image_size, rect=False)
        self._iterator: Iterator[dict[str, npt.NDArray[np.float32]]] = self._batches()

    def _batches(self) -> Iterator[dict[str, npt.NDArray[np.float32]]]:
        for path in self._files:
            image = cv2.imread(str(path))
            if image is None:
                raise InvalidSettingError(f"calibration image {path} cannot be read")
            tensor, _ = self._preprocess(np.asarray(image, np.uint8))
            yield {self._input_name: np.array(tensor, np.float32, copy=True)}

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        """Return the next calibration input, or None when done (ONNX Runtime's CalibrationDataReader API)."""
        return next(self._iterator, None)

    def rewind(self) -> None:
        """Start over (the quantizer may read the data more than once)."""
        self._iterator = self._batches()


def convs_to_keep_in_float(model: Any) -> list[str]:
    """Name the Convs that see raw pixels or feed an output without another Conv in between.

    The first Conv sees the image, and the head's last Convs produce box distances and class
    logits that share one output tensor with very different ranges: quantizing those costs most
    of the accuracy (measured on YOLO11n: no detections at all when everything is quantized).
    """
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {output.name for output in model.graph.output}
    image = model.graph.input[0].name

    def feeds_output_directly(node: Any) -> bool:
        pending, seen = list(node.output), set()
        while pending:
            tensor = pending.pop()
            if tensor in outputs:
                return True
            for consumer in consumers.get(tensor, []):
                if consumer.op_type != "Conv" and consumer.name not in seen:
                    seen.add(consumer.name)
                    pending.extend(consumer.output)
        return False

    return [
        n.name
        for n in model.graph.node
        if n.op_type == "Conv" and (image in n.input or feeds_output_directly(n))
    ]


# What ONNX Runtime's quantizer says on every run, to stdout and the root logger: not news to a user
_QUANTIZER_CHATTER: Final = ("Number of histogram bins", "Percentile :")
_PREPROCESS_ADVICE: Final = "Please consider pre-processing before quantization"


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_PREPROCESS_ADVICE)


@contextlib.contextmanager
def _quantizer_chatter_held_back() -> Iterator[None]:
    """Hold back the quantizer's routine prints and its pre-processing advice; pass on the rest.

    The advice (ONNX Runtime's quant_pre_process) is for models whose shapes are unknown; the
    exported YOLO models carry them, and the INT8 result is checked against FP32 by the tests.
    Anything else printed meanwhile reaches stdout afterwards.
    """
    printed, advice = io.StringIO(), _DropAdvice()
    root = logging.getLogger()
    root.addFilter(advice)
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        root.removeFilter(advice)
        for line in printed.getvalue().splitlines():
            if line and not line.startswith(_QUANTIZER_CHATTER):
                print(line)


def quantize_int8(
    source: Path, target: Path, files: Sequence[Path], image_size: tuple[int, int]
) -> Path:
    """Write an INT8 Q/DQ copy of an ONNX model, calibrated on ``files``, in a form TensorRT takes.

    Convolutions only (TensorRT fuses the rest around them), except the first and the output
    ones; symmetric INT8 activations and per-channel symmetric INT8 weights (TensorRT's explicit
    quantization needs zero points of 0); QDQ format; 99.999th-percentile calibration, which kept
    every FP32 detection on the sample images where min-max lost some. Biases stay FP32: TensorRT
    8.6's ONNX parser refuses a DequantizeLinear on an INT32 bias ("only activation types allowed
    as input to this layer"), and TensorRT folds the bias into the convolution either way.
    """
    from onnxruntime.quantization import (  # noqa: PLC0415
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = _load_onnx(source)
    input_name = model.graph.input[0].name

    class Reader(CalibrationReader, CalibrationDataReader):  # type: ignore[misc]
        """The calibration reader, as the quantizer's base class wants it."""

    with _quantizer_chatter_held_back():
        quantize_static(
            str(source),
            str(target),
            Reader(files, input_name, image_size),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            nodes_to_exclude=convs_to_keep_in_float(model),
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={
                "ActivationSymmetric": True,
                "WeightSymmetric": True,
                "CalibPercentile": 99.999,
                "QuantizeBias": False,
            },
        )
    return target
