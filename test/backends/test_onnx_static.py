"""Fixing the input shape of the real YOLO11n ONNX folds its shape arithmetic and keeps its answers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime
import pytest

from yolo_trt_ros.backends.onnx_static import image_input, static_shape_model
from yolo_trt_ros.errors import UnsupportedModelError
from yolo_trt_ros.models import bundled_model_path

# Operators that compute shapes at run time: a CUDA graph cannot capture what they feed.
SHAPE_OPERATORS = {"Shape", "Gather", "Range", "ConstantOfShape", "Expand", "Unsqueeze", "Cast"}


@pytest.fixture(scope="module")
def model() -> onnx.ModelProto:
    return onnx.load(str(bundled_model_path()))


def run(model: onnx.ModelProto, images: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, {image_input(model).name: images})
    return np.asarray(output)


@pytest.mark.parametrize("shape", [(1, 3, 384, 640), (1, 3, 640, 640)])
def test_folded_model_has_no_shape_arithmetic_and_the_same_outputs(
    model: onnx.ModelProto, shape: tuple[int, int, int, int]
) -> None:
    original_ops = Counter(node.op_type for node in model.graph.node)
    assert SHAPE_OPERATORS & set(original_ops), "the bundled export should be dynamic"
    folded = static_shape_model(model, shape)
    ops = Counter(node.op_type for node in folded.graph.node)
    assert not SHAPE_OPERATORS & set(ops), ops
    assert ops["Conv"] == original_ops["Conv"]
    assert [d.dim_value for d in image_input(folded).type.tensor_type.shape.dim] == list(shape)
    assert {opset.domain for opset in folded.opset_import} == {""}
    images = np.random.default_rng(7).random(shape, dtype=np.float32)
    expected, got = run(model, images), run(folded, images)
    assert got.shape == expected.shape == (1, 84, (shape[2] * shape[3] // 64) * 21 // 16)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-2)
    assert len(model.graph.node) > len(folded.graph.node)  # the input model is left untouched


def test_wrong_rank_or_fixed_size_is_refused(model: onnx.ModelProto) -> None:
    with pytest.raises(UnsupportedModelError, match="4 dimensions"):
        static_shape_model(model, (3, 640, 640))
    fixed = static_shape_model(model, (1, 3, 320, 320))
    with pytest.raises(UnsupportedModelError, match="fixed at"):
        static_shape_model(fixed, (1, 3, 640, 640))
