"""The engine manager: export, precision, build and cache, with TensorRT replaced by the stand-in
builder of test/engine_stand_in.py (the only part that cannot exist here), and without it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from engine_stand_in import StandInBuilder, fingerprint

from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest
from yolo_trt_ros.engine.tensorrt_build import BUILDER_FLAGS, INT8_CALIBRATION
from yolo_trt_ros.errors import (
    BackendNotAvailableError,
    ExportUnavailableError,
    InvalidSettingError,
    ModelNotFoundError,
)
from yolo_trt_ros.models import bundled_model_path


def _manager(
    tmp_path: Path, log: Path | None = None, progress: list[tuple[str, float, str]] | None = None
) -> EngineManager:
    events = progress if progress is not None else []
    return EngineManager(
        EngineCache(tmp_path / "cache"),
        builder_factory=lambda: StandInBuilder(log),
        fingerprint=fingerprint,
        progress=lambda stage, percent, message: events.append((stage, percent, message)),
    )


def test_build_once_then_from_cache_with_progress(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    progress: list[tuple[str, float, str]] = []
    manager = _manager(tmp_path, log, progress)
    first = manager.prepare(ExportRequest(bundled_model_path(), precision="fp16"))
    assert first.backend == "tensorrt" and first.precision == "fp16" and not first.from_cache
    assert first.path.suffix == ".engine" and first.path.parent == manager.cache.directory
    assert first.onnx_path is not None and first.onnx_path.name.endswith("-fp16.onnx")
    stages = [stage for stage, _, _ in progress]
    assert stages.index("precision") < stages.index("build") < stages.index("save")
    assert all(0.0 <= percent <= 100.0 for _, percent, _ in progress)
    again = manager.prepare(ExportRequest(bundled_model_path(), precision="fp16"))
    assert again.from_cache and again.path == first.path and again.cache_key == first.cache_key
    assert log.read_text().splitlines() == [f"fp16 {first.onnx_path.name} level -1"], (
        "built exactly once"
    )
    sidecar = json.loads(manager.cache.sidecar_path(first.cache_key).read_text())
    assert "names" in sidecar["metadata"], "class names travel with the engine"
    assert (
        manager.cache.read_timing_cache(fingerprint(0, "10.13.0.35"), "fp16-level-1") == b"+timing"
    )


def test_auto_precision_and_output_dir(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    out = tmp_path / "deploy"
    prepared = manager.prepare(ExportRequest(bundled_model_path(), output_dir=out, device="dla:1"))
    assert prepared.precision == "fp16", "auto means FP16 when TensorRT is there"
    assert prepared.path.parent == out and prepared.path.is_file()
    assert (out / f"{prepared.cache_key}.json").is_file() and "-dla1-" in prepared.cache_key


def test_without_tensorrt_the_prepared_onnx_runs_on_onnxruntime(tmp_path: Path) -> None:
    manager = EngineManager(
        EngineCache(tmp_path / "cache")
    )  # the real builder: TensorRT is absent here
    plain = manager.prepare(ExportRequest(bundled_model_path()))
    assert (plain.backend, plain.precision, plain.path) == (
        "onnxruntime",
        "fp32",
        bundled_model_path(),
    )
    assert "TensorRT is not available" in plain.note
    with pytest.raises(BackendNotAvailableError, match="TensorRT is not installed"):
        manager.prepare(ExportRequest(bundled_model_path(), backend="tensorrt"))
    quiet = manager.prepare(ExportRequest(bundled_model_path(), backend="onnxruntime"))
    assert quiet.backend == "onnxruntime" and quiet.note == ""
    # an output folder and a GPU asked for: the ONNX lands there, and the note says both
    out = tmp_path / "out"
    told = manager.prepare(ExportRequest(bundled_model_path(), device="cuda:0", output_dir=out))
    assert (out / bundled_model_path().name).read_bytes() == bundled_model_path().read_bytes()
    assert "device cuda:0 is for a TensorRT engine" in told.note
    assert f"output_dir has the prepared ONNX {bundled_model_path().name}" in told.note


def test_models_that_cannot_be_prepared(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    pt = tmp_path / "yolo11s.pt"
    pt.write_bytes(b"not unpickled: Ultralytics is not installed, so this file is never opened")
    with pytest.raises(ExportUnavailableError, match="needs Ultralytics"):
        manager.prepare(ExportRequest(pt))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        manager.prepare(ExportRequest(tmp_path / "missing.onnx"))
    with pytest.raises(ModelNotFoundError, match="is a folder"):
        manager.prepare(ExportRequest(tmp_path))
    with pytest.raises(ModelNotFoundError, match="/dev/null is not a regular file"):
        manager.prepare(ExportRequest(Path("/dev/null")))  # it exists: not "does not exist"
    weights = tmp_path / "model.tflite"
    weights.write_bytes(b"x")
    with pytest.raises(InvalidSettingError, match=r"\.onnx, \.pt or \.engine"):
        manager.prepare(ExportRequest(weights))
    with pytest.raises(InvalidSettingError, match="calibration"):
        manager.prepare(ExportRequest(bundled_model_path(), precision="int8"))


def test_an_explicit_engine_path_is_used_as_given(tmp_path: Path) -> None:
    engine = tmp_path / "mine.engine"
    engine.write_bytes(b"user's engine")
    prepared = _manager(tmp_path).prepare(ExportRequest(engine))
    assert (prepared.backend, prepared.path, prepared.engine_path) == (
        "tensorrt",
        engine,
        str(engine),
    )


def _manager_with(tmp_path: Path, builder: StandInBuilder) -> EngineManager:
    return EngineManager(
        EngineCache(tmp_path / "cache"), builder_factory=lambda: builder, fingerprint=fingerprint
    )


def test_quick_first_build_then_the_optimised_one_from_its_follow_up(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    manager = _manager_with(tmp_path, StandInBuilder(log))
    request = ExportRequest(bundled_model_path(), precision="fp16", quick_first=True)
    quick = manager.prepare(request)
    assert quick.optimization_level == 0 and quick.follow_up is not None
    assert not quick.follow_up.quick_first
    full = manager.prepare(quick.follow_up)
    assert full.optimization_level == -1 and full.follow_up is None and full.path != quick.path
    # once the optimised engine is cached, a quick-first request loads it directly
    again = manager.prepare(request)
    assert again.from_cache and again.path == full.path and again.follow_up is None
    assert [line.split()[-1] for line in log.read_text().splitlines()] == ["0", "-1"]


def test_builder_flag_route_builds_fp16_from_the_fp32_onnx(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    manager = _manager_with(tmp_path, StandInBuilder(log, route=BUILDER_FLAGS))
    prepared = manager.prepare(ExportRequest(bundled_model_path(), precision="fp16"))
    assert prepared.onnx_path == bundled_model_path(), "no FP16 conversion on TensorRT < 10.12"
    assert prepared.precision == "fp16"
    assert not (manager.prepared_dir.exists() and any(manager.prepared_dir.glob("*-fp16.onnx")))


def test_a_refused_timing_cache_is_set_aside_and_the_build_succeeds(tmp_path: Path) -> None:
    manager = _manager_with(tmp_path, StandInBuilder(refuse_timing_cache=True))
    manager.cache.write_timing_cache(fingerprint(0, "10.13.0.35"), b"stale", "fp16-level-1")
    prepared = manager.prepare(ExportRequest(bundled_model_path(), precision="fp16"))
    assert prepared.path.is_file()
    path = manager.cache.timing_cache_path(fingerprint(0, "10.13.0.35"), "fp16-level-1")
    assert path.with_name(path.name + ".refused").read_bytes() == b"stale"
    assert (
        manager.cache.read_timing_cache(fingerprint(0, "10.13.0.35"), "fp16-level-1") == b"+timing"
    )
    # caches are kept per precision: an FP32 build never reads the FP16 one
    assert manager.cache.read_timing_cache(fingerprint(0, "10.13.0.35"), "fp32-level-1") is None


def test_int8_below_tensorrt_10_is_calibrated_by_tensorrt_and_its_table_is_reused(
    tmp_path: Path,
) -> None:
    images = tmp_path / "calibration"
    images.mkdir()
    for name in ("a.png", "b.jpg"):
        (images / name).write_bytes(b"stands for an image: the stand-in builder reads names only")
    builder = StandInBuilder(route=BUILDER_FLAGS, int8=INT8_CALIBRATION)
    manager = _manager_with(tmp_path, builder)
    request = ExportRequest(
        bundled_model_path(), precision="int8", calibration_dir=images, quick_first=True
    )
    quick = manager.prepare(request)
    # TensorRT calibrates the FP32 ONNX itself: no Q/DQ model is written
    assert quick.onnx_path == bundled_model_path() and quick.precision == "int8"
    assert not (manager.prepared_dir.exists() and any(manager.prepared_dir.glob("*int8*")))
    first = builder.calibrations[0]
    assert first is not None and first.table is None
    assert [p.name for p in first.files] == ["a.png", "b.jpg"]
    assert quick.follow_up is not None
    manager.prepare(quick.follow_up)  # the optimised build reuses the quick build's table
    second = builder.calibrations[1]
    assert second is not None and second.table == b"TABLE a.png,b.jpg"
    # other images are another engine and another table
    (images / "c.png").write_bytes(b"a third image")
    manager.prepare(replace(request, quick_first=False))
    third = builder.calibrations[2]
    assert third is not None and third.table is None and len(third.files) == 3
    assert third.method == "minmax"  # the calibrator the hash names goes to the build
    # force calibrates again even though a table for these images is saved
    manager.prepare(replace(request, quick_first=False, force=True))
    forced = builder.calibrations[3]
    assert forced is not None and forced.table is None
