"""Fix an ONNX model's input shape and fold everything computed from it into constants.

A dynamic-shape YOLO export computes reshape targets, anchor grids and split sizes at run time
(``Shape`` -> ``Gather`` -> ``Concat`` -> ``Reshape``, ``Range``, ...). Converted to PyTorch, those
become host reads of device tensors, which a CUDA graph cannot capture. With the input shape fixed,
ONNX Runtime's basic graph optimisations (constant folding and redundant-node removal: standard ONNX
operators only) turn them into constants. Needs onnx and onnxruntime, not torch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import onnx
import onnxruntime

from yolo_trt_ros.errors import UnsupportedModelError

__all__ = ["image_input", "static_shape_model"]


def image_input(model: onnx.ModelProto) -> onnx.ValueInfoProto:
    """Return the model's single real input (graph inputs that are not initializers)."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    if len(inputs) != 1:
        raise UnsupportedModelError(
            f"the model has {len(inputs)} inputs; a YOLO detector has one image input"
        )
    value: onnx.ValueInfoProto = inputs[0]
    return value


def static_shape_model(model: onnx.ModelProto, input_shape: Sequence[int]) -> onnx.ModelProto:
    """Return a copy of ``model`` whose input has ``input_shape``, with shape arithmetic folded."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    dims = image_input(fixed).type.tensor_type.shape.dim
    if len(dims) != len(input_shape):
        raise UnsupportedModelError(
            f"the model input has {len(dims)} dimensions, not {len(input_shape)} like {tuple(input_shape)}"
        )
    for dim, size in zip(dims, input_shape, strict=True):
        if dim.HasField("dim_value") and dim.dim_value not in (0, size):
            raise UnsupportedModelError(
                f"the model input is fixed at {[d.dim_value for d in dims]}, not {tuple(input_shape)}"
            )
        dim.Clear()
        dim.dim_value = int(size)
    for output in fixed.graph.output:  # let the optimiser infer the now-fixed output shapes
        for dim in output.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.Clear()
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="yolo_trt_ros_static_") as folder:
        source, folded_path = Path(folder) / "fixed.onnx", Path(folder) / "folded.onnx"
        onnx.save(fixed, str(source))
        options.optimized_model_filepath = str(folded_path)
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        folded = onnx.load(str(folded_path))
    foreign = sorted(
        {node.op_type for node in folded.graph.node if node.domain not in ("", "ai.onnx")}
    )
    if foreign:
        raise UnsupportedModelError(
            f"folding the model's shapes produced non-standard operators {foreign}; "
            "export the model with a fixed input size instead"
        )
    used = {node.domain for node in folded.graph.node} | {""}
    kept = [opset for opset in folded.opset_import if opset.domain in used]
    del folded.opset_import[:]
    folded.opset_import.extend(kept)
    return folded
