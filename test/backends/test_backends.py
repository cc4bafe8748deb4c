"""The backend registry and the ONNX Runtime backend on the real YOLO11n model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from yolo_trt_ros.backends import available_backends, load_backend, registry, resolve_backend
from yolo_trt_ros.backends.onnxruntime_backend import OnnxRuntimeBackend, execution_providers_for
from yolo_trt_ros.errors import BackendNotAvailableError, ModelLoadError, ModelNotFoundError
from yolo_trt_ros.models import bundled_model_path


@pytest.fixture(scope="module")
def backend() -> OnnxRuntimeBackend:
    loaded = load_backend(bundled_model_path(), "auto", "cpu")
    assert isinstance(loaded, OnnxRuntimeBackend)
    return loaded


def test_specs_metadata_device_and_version(backend: OnnxRuntimeBackend) -> None:
    (image,) = backend.input_specs
    assert image.name == "images" and image.dtype == np.float32 and image.is_dynamic
    assert image.fixed_dim(1) == 3 and image.fixed_dim(2) is None
    (output,) = backend.output_specs
    assert output.fixed_dim(1) == 84
    meta = backend.metadata
    assert (
        meta.task == "detect"
        and meta.stride == 32
        and meta.imgsz == (640, 640)
        and meta.dynamic is True
    )
    assert len(meta.names) == 80 and meta.names[0] == "person" and meta.names[79] == "toothbrush"
    assert backend.device == "cpu"
    assert backend.version == f"onnxruntime {onnxruntime.__version__} (CPUExecutionProvider)"


def test_infer_returns_the_head_output(backend: OnnxRuntimeBackend) -> None:
    (output,) = backend.infer(np.zeros((1, 3, 320, 256), np.float32))
    anchors = (320 // 8) * (256 // 8) + (320 // 16) * (256 // 16) + (320 // 32) * (256 // 32)
    assert output.shape == (1, 84, anchors) and output.dtype == np.float32


def test_closed_backend_refuses_work() -> None:
    with load_backend(bundled_model_path(), device="cpu") as loaded:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        loaded.infer(np.zeros((1, 3, 64, 64), np.float32))
    loaded.close()  # twice is fine


def test_registry_resolves_by_suffix_and_name(tmp_path: Path) -> None:
    assert "onnxruntime" in available_backends()
    assert resolve_backend("auto", Path("m.onnx")).name == "onnxruntime"
    assert resolve_backend("onnxruntime", Path("M.ONNX")).name == "onnxruntime"
    with pytest.raises(BackendNotAvailableError, match="unknown backend 'openvino'"):
        resolve_backend("openvino", Path("m.onnx"))
    with pytest.raises(BackendNotAvailableError, match=r"no backend loads \.xml"):
        resolve_backend("auto", Path("m.xml"))
    with pytest.raises(BackendNotAvailableError, match=r"loads \.onnx files"):
        resolve_backend("onnxruntime", Path("m.engine"))


def test_missing_and_corrupt_models(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_backend(tmp_path / "nope.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(bundled_model_path().read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_backend(truncated)


def test_device_strings() -> None:
    cpu_only = ["CPUExecutionProvider"]
    assert execution_providers_for("auto", cpu_only) == ["CPUExecutionProvider"]
    assert execution_providers_for("cpu", cpu_only) == ["CPUExecutionProvider"]
    with_cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert execution_providers_for("auto", with_cuda)[0] == (
        "CUDAExecutionProvider",
        {"device_id": 0},
    )
    assert execution_providers_for("cuda:1", with_cuda)[0] == (
        "CUDAExecutionProvider",
        {"device_id": 1},
    )
    with pytest.raises(BackendNotAvailableError, match="install onnxruntime-gpu"):
        execution_providers_for("cuda:0", cpu_only)
    with pytest.raises(BackendNotAvailableError, match="TensorrtExecutionProvider"):
        execution_providers_for("tensorrt:0", with_cuda)
    with pytest.raises(BackendNotAvailableError, match="not 'dla:0'"):
        execution_providers_for("dla:0", with_cuda)
    with pytest.raises(BackendNotAvailableError, match="bad index"):
        execution_providers_for("cuda:x", with_cuda)


def test_unknown_backend_option_is_an_error() -> None:
    with pytest.raises(TypeError, match="unknown onnxruntime backend options: thread"):
        load_backend(bundled_model_path(), thread=2)


def test_auto_skips_an_installed_backend_whose_check_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def entry(name: str, usable: str | None) -> registry.BackendEntry:
        # "json" is always importable; operator.not_(path) is False for any path, bool(path) True.
        return registry.BackendEntry(name, "json:JSONDecoder", (".onnx",), "json", "-", usable)

    monkeypatch.setattr(
        registry, "BACKENDS", (entry("refuses", "operator:not_"), entry("accepts", "builtins:bool"))
    )
    assert resolve_backend("auto", Path("m.onnx")).name == "accepts"
    # Naming a backend skips the check: its load() says what is wrong.
    assert resolve_backend("refuses", Path("m.onnx")).name == "refuses"
    with pytest.raises(BackendNotAvailableError, match=r"cannot be imported.*install me"):
        registry.BackendEntry(
            "x", "no_such_module_here:X", (".onnx",), "json", "install me"
        ).load_class()
    monkeypatch.setattr(registry, "BACKENDS", (entry("broken", "no_such_module_here:check"),))
    with pytest.raises(BackendNotAvailableError, match=r"no backend for \.onnx files"):
        resolve_backend("auto", Path("m.onnx"))


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_torch_backend_is_listed_but_needs_torch() -> None:
    assert "torch" in [entry.name for entry in registry.BACKENDS]
    assert "torch" not in available_backends()
    with pytest.raises(BackendNotAvailableError, match="needs the Python module torch"):
        resolve_backend("torch", Path("m.onnx"))
    with pytest.raises(BackendNotAvailableError, match=r"no backend for \.torchscript files"):
        resolve_backend("auto", Path("m.torchscript"))


def test_a_model_path_that_is_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="is a folder"):
        load_backend(tmp_path)
