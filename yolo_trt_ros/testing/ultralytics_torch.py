"""Ultralytics' YOLO11n as a PyTorch model, rebuilt from the bundled ONNX export's weights.

The package ships no yolo11n.pt and nothing is downloaded at run time. The Ultralytics ONNX export keeps the layer
names in its initializers and has each BatchNorm folded into the convolution before it, so
``yolo11n.yaml`` with those weights, and every BatchNorm set to pass ``x + bias`` through
unchanged, is the same network. The GPU benchmark runs Ultralytics' ``predict`` on it, and the GPU
tests export it to TorchScript exactly as Ultralytics does. Needs ultralytics, torch and onnx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ultralytics_from_onnx(onnx_path: Path, names: dict[int, str]) -> Any:
    """Return ``YOLO("yolo11n.yaml")`` holding the ONNX file's weights (every one of them used)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from ultralytics import YOLO
    from ultralytics.nn.modules import Conv

    weights = {
        tensor.name: torch.from_numpy(numpy_helper.to_array(tensor).copy())
        for tensor in onnx.load(str(onnx_path)).graph.initializer
        if tensor.name.startswith("model.")
    }
    yolo = YOLO("yolo11n.yaml", task="detect")
    used: set[str] = set()
    with torch.no_grad():
        for name, module in yolo.model.named_modules():
            if isinstance(module, Conv):  # conv without bias, then BatchNorm: folded in the ONNX
                module.conv.weight.copy_(weights[f"{name}.conv.weight"])
                norm = module.bn
                norm.weight.fill_(1.0)
                norm.bias.copy_(weights[f"{name}.conv.bias"])
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0 - norm.eps)  # (x - 0) / sqrt(1 - eps + eps) + bias
                used |= {f"{name}.conv.weight", f"{name}.conv.bias"}
            elif isinstance(module, torch.nn.Conv2d) and f"{name}.weight" in weights:
                module.weight.copy_(weights[f"{name}.weight"])
                used.add(f"{name}.weight")
                if module.bias is not None:
                    module.bias.copy_(weights[f"{name}.bias"])
                    used.add(f"{name}.bias")
    unused = sorted(set(weights) - used)
    if unused:
        raise RuntimeError(f"ONNX weights that fit no layer of yolo11n.yaml: {unused[:5]}")
    yolo.model.names = dict(names)
    return yolo


def export_torchscript(yolo: Any, path: Path, imgsz: int = 640) -> None:
    """Trace the model on the GPU and save it with its metadata, as Ultralytics' exporter does."""
    import json

    import torch
    from ultralytics.nn.modules import Detect

    model = yolo.model.fuse().eval().to("cuda:0")
    for module in model.modules():
        if isinstance(module, Detect):  # the exporter's settings: one (1, 4 + C, anchors) output
            module.export = True
            module.format = "torchscript"
    example = torch.zeros(1, 3, imgsz, imgsz, device="cuda:0")
    with torch.no_grad():
        for _ in range(2):  # dry runs, as the exporter: the head caches its anchors on the first
            model(example)
        traced = torch.jit.trace(model, example, strict=False, check_trace=False)
    metadata = {
        "author": "Ultralytics",
        "stride": int(max(model.stride)),
        "task": "detect",
        "batch": 1,
        "imgsz": [imgsz, imgsz],
        "names": {int(k): v for k, v in model.names.items()},
        "args": {"batch": 1, "half": False, "dynamic": False},
    }
    torch.jit.save(traced, str(path), _extra_files={"config.txt": json.dumps(metadata)})
