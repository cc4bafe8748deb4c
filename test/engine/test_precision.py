"""FP16 and INT8 (Q/DQ) ONNX files, run for real in ONNX Runtime, against the FP32 model.

TensorRT 11 takes precision only from the ONNX, so these files are what an engine is built from;
here they run on the CPU, which is how their accuracy is measured without TensorRT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from gpu_support import best_matches
from onnx import numpy_helper

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest
from yolo_trt_ros.engine.precision import calibration_images, calibration_sha256
from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.testing.sample_images import build_sample_images, write_calibration_folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision")
    calibration = write_calibration_folder(root / "calibration")
    manager = EngineManager(
        EngineCache(root / "cache")
    )  # no TensorRT here: the ONNX files are the product
    fp16 = manager.prepare(ExportRequest(bundled_model_path(), precision="fp16"))
    int8 = manager.prepare(
        ExportRequest(bundled_model_path(), precision="int8", calibration_dir=calibration)
    )
    assert fp16.backend == int8.backend == "onnxruntime"
    assert fp16.onnx_path is not None and int8.onnx_path is not None
    return {"fp16": fp16.onnx_path, "int8": int8.onnx_path, "calibration": calibration}


def _best_ious(reference: Detections, other: Detections) -> list[float]:
    return [iou for iou, _ in best_matches(reference, other)]


def test_fp16_model_keeps_fp32_io_and_metadata(prepared: dict[str, Path]) -> None:
    model = onnx.load(str(prepared["fp16"]))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [i for i in model.graph.initializer if len(i.dims) == 4]
    assert weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in weights), (
        "conv weights are FP16"
    )
    assert {p.key for p in model.metadata_props} >= {"names", "imgsz", "stride", "task"}


def test_fp16_gives_the_same_detections_as_fp32(prepared: dict[str, Path]) -> None:
    with (
        Detector.from_model(bundled_model_path()) as fp32,
        Detector.from_model(prepared["fp16"]) as fp16,
    ):
        for name, image in build_sample_images().items():
            reference, half = fp32(image), fp16(image)
            assert half.class_ids.tolist() == reference.class_ids.tolist(), name
            ious = _best_ious(reference, half)
            assert all(iou >= 0.97 for iou in ious), f"{name}: IoUs {ious}"


def test_int8_is_explicit_symmetric_qdq(prepared: dict[str, Path]) -> None:
    model = onnx.load(str(prepared["int8"]))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("QuantizeLinear") > 50 and ops.count("DequantizeLinear") > 50
    initializers = {i.name: i for i in model.graph.initializer}
    zero_points = [
        node.input[2]
        for node in model.graph.node
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2
    ]
    assert zero_points and all(
        not numpy_helper.to_array(initializers[name]).any() for name in zero_points
    ), "TensorRT needs zero points of 0 (symmetric quantization)"


def test_int8_recalls_the_fp32_detections(prepared: dict[str, Path]) -> None:
    """mAP-style agreement: FP32 detections at 0.25 found among the INT8 ranking (down to 0.05) at IoU 0.5."""
    found = total = strict_found = 0
    with (
        Detector.from_model(bundled_model_path()) as fp32,
        Detector.from_model(prepared["int8"], conf=0.05) as int8,
    ):
        for image in build_sample_images().values():
            reference, quantized = fp32(image), int8(image)
            ious = _best_ious(reference, quantized)
            found += sum(iou >= 0.5 for iou in ious)
            total += len(ious)
            above = quantized.scores > 0.25
            strict_found += sum(
                iou >= 0.5 for iou in _best_ious(reference, _subset(quantized, above))
            )
    recall = found / total
    print(
        f"INT8 recall of {total} FP32 detections at IoU 0.5: {recall:.3f} (ranking down to 0.05); {strict_found / total:.3f} at the same 0.25 threshold"
    )
    assert recall >= 0.9


def _subset(detections: Detections, keep: np.ndarray) -> Detections:
    return Detections(
        detections.boxes[keep],
        detections.scores[keep],
        detections.class_ids[keep],
        detections.names,
    )


def test_calibration_set_identity(prepared: dict[str, Path], tmp_path: Path) -> None:
    files = calibration_images(prepared["calibration"])
    assert len(files) == 36 and calibration_sha256(files) == calibration_sha256(list(files))
    assert calibration_sha256(files[:-1]) != calibration_sha256(files)
    # where TensorRT calibrates, its calibrator is part of the engine's identity too
    assert calibration_sha256(files, "tensorrt minmax") != calibration_sha256(files)
    assert calibration_sha256(files, "tensorrt minmax") != calibration_sha256(
        files, "tensorrt entropy"
    )
    with pytest.raises(InvalidSettingError, match="does not exist"):
        calibration_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidSettingError, match="holds no images"):
        calibration_images(tmp_path / "empty")


def test_the_quantizers_routine_chatter_is_held_back(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from yolo_trt_ros.engine.precision import _quantizer_chatter_held_back

    with caplog.at_level(logging.WARNING), _quantizer_chatter_held_back():
        # what onnxruntime.quantization prints on every calibrated run (calibrate.py, quantize.py)
        print("Number of histogram bins : 2048")
        print("Percentile : (0.001,99.999)")
        logging.warning("Please consider pre-processing before quantization. See https://...")
        print("something else")
        logging.warning("another warning")
    assert capsys.readouterr().out == "something else\n"
    assert [record.getMessage() for record in caplog.records] == ["another warning"]
