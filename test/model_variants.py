"""Derive YOLO11 ONNX variants from the raw Ultralytics export, to test every decoder on a real model.

* ``make_end2end_model``: NMS inside the graph, one output (1, K, 6) of x1, y1, x2, y2, score, class,
  like Ultralytics' ``nms=True`` exports.
* ``make_efficient_nms_model``: NMS inside the graph, the four outputs of TensorRT's EfficientNMS
  plugin, padded with zeros to ``max_det`` rows as the plugin does.
* ``make_static_model``: the same network with its input fixed to (1, 3, height, width).

The NMS is exact, like ``yolo_trt_ros.core.nms``: each anchor keeps only its best class score
(ArgMax, one-hot), and ONNX NonMaxSuppression runs per class on those scores, with no coordinate
offset trick. The NMS variants take one image per batch. Metadata is kept; ``args`` is updated.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["make_efficient_nms_model", "make_end2end_model", "make_static_model"]

RAW_OUTPUT = "output0"
STRIDES = (8, 16, 32)


def _load_single_image_model(src: Path) -> onnx.ModelProto:
    """Load the raw export with its batch dimension fixed to 1 (the in-graph NMS handles one image)."""
    model = onnx.load(str(src))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    return model


def _set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    prop = next((p for p in model.metadata_props if p.key == key), None)
    if prop is None:
        prop = model.metadata_props.add(key=key)
    prop.value = value


class _Builder:
    """Appends constants and nodes to a graph; each node is named after its first output."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph

    def const(self, name: str, value: Any, dtype: type[np.generic] = np.int64) -> str:
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: str | list[str], **attrs: Any) -> str:
        names = [outputs] if isinstance(outputs, str) else outputs
        self.graph.node.append(helper.make_node(op_type, inputs, names, name=names[0], **attrs))
        return names[0]


def _update_args(model: onnx.ModelProto, **updates: Any) -> None:
    """Update Ultralytics' ``args`` metadata, a Python dict literal such as ``{'nms': False}``."""
    raw = next((p.value for p in model.metadata_props if p.key == "args"), "{}")
    _set_metadata(model, "args", repr({**ast.literal_eval(raw), **updates}))


def _save(model: onnx.ModelProto, dst: Path) -> Path:
    onnx.checker.check_model(model, full_check=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def _append_nms(model: onnx.ModelProto, conf: float, iou: float, max_det: int) -> _Builder:
    """Replace the raw output (1, 4 + C, anchors) by NMS nodes.

    Their results: ``nms.boxes`` (1, K, 4) xyxy, ``nms.scores`` (K,) descending, ``nms.classes``
    (K,) int64 and ``nms.count`` (1,) int64 = K, with K <= max_det.
    """
    graph, g = model.graph, _Builder(model.graph)
    num_classes = graph.output[0].type.tensor_type.shape.dim[1].dim_value - 4
    for node in graph.node:
        node.output[:] = ["nms.raw" if name == RAW_OUTPUT else name for name in node.output]
    del graph.output[:]
    zero, two, four = g.const("nms.0", [0]), g.const("nms.2", [2]), g.const("nms.4", [4])
    end, axis1, axis2 = (
        g.const("nms.end", [2**62]),
        g.const("nms.ax1", [1]),
        g.const("nms.ax2", [2]),
    )

    xywh = g.op("Slice", ["nms.raw", zero, four, axis1], "nms.xywh_first")  # (1, 4, A)
    xywh = g.op("Transpose", [xywh], "nms.xywh", perm=[0, 2, 1])  # (1, A, 4)
    half_wh = g.op("Slice", [xywh, two, four, axis2], "nms.wh")
    half_wh = g.op("Div", [half_wh, g.const("nms.two", 2.0, np.float32)], "nms.half_wh")
    xy = g.op("Slice", [xywh, zero, two, axis2], "nms.xy")
    corners = [g.op("Sub", [xy, half_wh], "nms.x1y1"), g.op("Add", [xy, half_wh], "nms.x2y2")]
    xyxy = g.op("Concat", corners, "nms.xyxy", axis=2)  # (1, A, 4)

    # Each anchor keeps only its best class: its best score where ArgMax points, 0 elsewhere.
    class_scores = g.op("Slice", ["nms.raw", four, end, axis1], "nms.class_scores")  # (1, C, A)
    best = g.op("ReduceMax", [class_scores], "nms.best", axes=[1], keepdims=1)  # (1, 1, A)
    best_class = g.op("ArgMax", [class_scores], "nms.best_class", axis=1, keepdims=0)  # (1, A)
    depth, values = g.const("nms.depth", num_classes), g.const("nms.01", [0, 1], np.float32)
    onehot = g.op("OneHot", [best_class, depth, values], "nms.onehot", axis=1)  # (1, C, A)
    scores = g.op("Mul", [onehot, best], "nms.best_only")

    # NonMaxSuppression reads [y1, x1, y2, x2] corners; the IoU of [x1, y1, x2, y2] is the same.
    limits = [
        g.const("nms.max_per_class", [max_det]),
        g.const("nms.iou", [iou], np.float32),
        g.const("nms.conf", [conf], np.float32),
    ]
    selected = g.op("NonMaxSuppression", [xyxy, scores, *limits], "nms.selected")  # (M, 3)
    selected_scores = g.op("GatherND", [scores, selected], "nms.selected_scores")  # (M,)
    count = g.op("Shape", [selected_scores], "nms.selected_count")
    count = g.op("Min", [count, g.const("nms.max_det", [max_det])], "nms.count")
    # The selection is grouped by class: sort it by score and keep max_det.
    g.op("TopK", [selected_scores, count], ["nms.scores", "nms.order"], axis=0)
    for column, name in ((1, "classes"), (2, "anchors")):
        picked = g.op(
            "Gather", [selected, g.const(f"nms.col{column}", column)], f"nms.{name}_all", axis=1
        )
        g.op("Gather", [picked, "nms.order"], f"nms.{name}")
    g.op("Gather", [xyxy, "nms.anchors"], "nms.boxes", axis=1)  # (1, K, 4)
    return g


def make_end2end_model(
    src: Path, dst: Path, *, conf: float = 0.25, iou: float = 0.7, max_det: int = 300
) -> Path:
    """Write ``src`` with NMS appended; its one output ``output0`` is (1, K, 6); return ``dst``."""
    model = _load_single_image_model(src)
    g = _append_nms(model, conf, iou, max_det)
    axes = g.const("e2e.axes", [0, 2])
    classes = g.op("Cast", ["nms.classes"], "e2e.classes_float", to=TensorProto.FLOAT)
    columns = [
        "nms.boxes",
        g.op("Unsqueeze", ["nms.scores", axes], "e2e.scores"),
        g.op("Unsqueeze", [classes, axes], "e2e.classes"),
    ]
    g.op("Concat", columns, RAW_OUTPUT, axis=2)
    model.graph.output.append(
        helper.make_tensor_value_info(RAW_OUTPUT, TensorProto.FLOAT, [1, "detections", 6])
    )
    _update_args(model, nms=True, conf=conf, iou=iou, max_det=max_det)
    return _save(model, dst)


def make_efficient_nms_model(
    src: Path, dst: Path, *, conf: float = 0.25, iou: float = 0.7, max_det: int = 300
) -> Path:
    """Write ``src`` with NMS appended and EfficientNMS' outputs, K = max_det rows; return ``dst``.

    Outputs: num_dets (1, 1) int32, det_boxes (1, K, 4), det_scores (1, K), det_classes (1, K)
    int32; the rows from num_dets on are zeros, as the TensorRT plugin writes them.
    """
    model = _load_single_image_model(src)
    g = _append_nms(model, conf, iou, max_det)
    int32, zero = TensorProto.INT32, g.const("eff.0", [0])
    rows = g.op("Sub", [g.const("eff.max_det", [max_det]), "nms.count"], "eff.rows")
    pads_2d = g.op("Concat", [g.const("eff.000", [0, 0, 0]), rows], "eff.pads_2d", axis=0)
    pads_3d = g.op("Concat", [g.const("eff.0000", [0] * 4), rows, zero], "eff.pads_3d", axis=0)
    g.op("Pad", ["nms.boxes", pads_3d], "det_boxes")
    g.op("Pad", [g.op("Unsqueeze", ["nms.scores", zero], "eff.scores"), pads_2d], "det_scores")
    classes = g.op("Cast", ["nms.classes"], "eff.classes_int32", to=int32)
    g.op("Pad", [g.op("Unsqueeze", [classes, zero], "eff.classes"), pads_2d], "det_classes")
    count = g.op("Cast", ["nms.count"], "eff.count", to=int32)
    g.op("Reshape", [count, g.const("eff.shape", [1, 1])], "num_dets")
    model.graph.output.extend(
        [
            helper.make_tensor_value_info("num_dets", int32, [1, 1]),
            helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, [1, max_det, 4]),
            helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, [1, max_det]),
            helper.make_tensor_value_info("det_classes", int32, [1, max_det]),
        ]
    )
    _update_args(model, nms=True, conf=conf, iou=iou, max_det=max_det)
    return _save(model, dst)


def make_static_model(src: Path, dst: Path, height: int = 640, width: int = 640) -> Path:
    """Write ``src`` with its input fixed to (1, 3, height, width) and its output to match."""
    if height % STRIDES[-1] or width % STRIDES[-1]:
        raise ValueError(f"height and width must be multiples of {STRIDES[-1]}: {height}x{width}")
    model = onnx.load(str(src))
    del model.graph.value_info[:]  # intermediate shapes named after the dynamic dims
    anchors = sum((height // s) * (width // s) for s in STRIDES)
    for tensor, dims in (
        (model.graph.input[0], (1, 3, height, width)),
        (model.graph.output[0], (1, None, anchors)),
    ):
        for dim, value in zip(tensor.type.tensor_type.shape.dim, dims, strict=True):
            if value is not None:
                dim.dim_value = value
    _set_metadata(model, "imgsz", str([height, width]))
    _update_args(model, dynamic=False, imgsz=[height, width])
    return _save(model, dst)
