"""Engine specs, cache keys, the cache (sidecars, hashes, policies, locking) and Ultralytics headers.

TensorRT itself cannot run here: the engines are stand-in bytes (test/engine_stand_in.py); the
cache code that handles them is the real one.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from engine_stand_in import FINGERPRINT

from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.spec import DeviceFingerprint, EngineSpec, cache_key
from yolo_trt_ros.engine.ultralytics_format import split_ultralytics_engine, with_ultralytics_header
from yolo_trt_ros.errors import InvalidSettingError, StaleEngineError

SPEC = EngineSpec(model="/models/yolo11n.onnx", model_sha256="a" * 64, precision="fp16")
OTHER_VALUES: dict[str, Any] = {
    "model_sha256": "b" * 64,
    "image_size": (480, 640),
    "batch": 4,
    "dynamic": True,
    "precision": "fp32",
    "device": "cuda:1",
    "gpu_fallback": False,
    "workspace_mib": 512,
    "optimization_level": 5,
    "nms": "inside",
    "calibration_sha256": "c" * 64,
}


def _build(data: bytes = b"engine-bytes") -> Any:
    return lambda: (data, {"names": "{0: 'person'}"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"precision": "int4"}, "precision"),
        ({"device": "gpu0"}, "cuda:N or dla:N"),
        ({"device": "dla:0", "precision": "fp32"}, "DLA runs FP16 or INT8"),
        ({"image_size": (600, 640)}, "multiples of 32"),
        ({"batch": 0}, "batch"),
        ({"precision": "int8"}, "calibration"),
        ({"optimization_level": 7}, "optimization_level"),
        ({"model_sha256": "abc"}, "sha256"),
    ],
)
def test_spec_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSettingError, match=message):
        replace(SPEC, **changes)


def test_cache_key_covers_every_setting_and_the_device_but_not_the_path() -> None:
    key = cache_key(SPEC, FINGERPRINT)
    assert key == cache_key(SPEC, FINGERPRINT) and key.startswith("yolo11n-fp16-640x640-b1-cuda0-")
    assert cache_key(replace(SPEC, model="/elsewhere/yolo11n.onnx"), FINGERPRINT) == key
    assert {f.name for f in fields(EngineSpec)} - {"model"} == set(OTHER_VALUES)
    for name, value in OTHER_VALUES.items():
        changed = replace(
            SPEC,
            **({name: value} if name != "precision" else {name: value, "calibration_sha256": ""}),
        )
        assert cache_key(changed, FINGERPRINT) != key, name
    for name in (
        "gpu_name",
        "compute_capability",
        "tensorrt_version",
        "cuda_version",
        "l4t_release",
    ):
        assert cache_key(SPEC, replace(FINGERPRINT, **{name: "other"})) != key, name


def test_store_then_lookup(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path / "engines")
    assert cache.lookup(SPEC, FINGERPRINT) is None
    stored = cache.get_or_build(SPEC, FINGERPRINT, _build())
    assert not stored.from_cache and stored.engine_path.read_bytes() == b"engine-bytes"
    sidecar = json.loads(cache.sidecar_path(stored.key).read_text())
    assert sidecar["engine_sha256"] == hashlib.sha256(b"engine-bytes").hexdigest()
    assert (
        sidecar["fingerprint"]["tensorrt_version"] == "10.13.0.35"
        and sidecar["spec"]["precision"] == "fp16"
    )
    assert sidecar["metadata"] == {"names": "{0: 'person'}"} and sidecar["build_seconds"] >= 0
    found = cache.lookup(SPEC, FINGERPRINT)
    assert found is not None and found.from_cache and found.engine_path == stored.engine_path
    assert oct(cache.directory.stat().st_mode & 0o777) == "0o700"
    assert not list(cache.directory.glob("*.partial")), "no temporary files left behind"


def _corrupt_truncated(cache: EngineCache, key: str) -> None:
    path = cache.engine_path(key)
    path.write_bytes(path.read_bytes()[:5])


def _corrupt_sidecar(cache: EngineCache, key: str) -> None:
    path = cache.sidecar_path(key)
    sidecar = json.loads(path.read_text())
    sidecar["spec"]["batch"] = 8
    path.write_text(json.dumps(sidecar))


def _foreign_tensorrt(cache: EngineCache, key: str) -> None:
    # An engine built by another TensorRT, copied into this key's place (e.g. synced from a fleet).
    foreign = replace(FINGERPRINT, tensorrt_version="10.3.0.30")
    other = EngineCache(cache.directory / "foreign").store(SPEC, foreign, b"foreign-engine", 1.0)
    cache.engine_path(key).write_bytes(other.engine_path.read_bytes())
    cache.sidecar_path(key).write_text(json.dumps(other.sidecar | {"key": key}))


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (_corrupt_truncated, "does not match its recorded sha256"),
        (_corrupt_sidecar, "build settings differ"),
        (_foreign_tensorrt, "tensorrt_version: engine has '10.3.0.30', this device '10.13.0.35'"),
        (lambda c, k: c.sidecar_path(k).write_text("{not json"), "sidecar"),
        (lambda c, k: c.engine_path(k).unlink(), "missing"),
    ],
)
def test_bad_cache_entries_are_never_loaded(tmp_path: Path, corrupt: Any, reason: str) -> None:
    rebuild, strict = (
        EngineCache(tmp_path / "engines"),
        EngineCache(tmp_path / "engines", policy="strict"),
    )
    key = rebuild.get_or_build(SPEC, FINGERPRINT, _build()).key
    corrupt(rebuild, key)
    assert any(reason in problem for problem in rebuild.problems(SPEC, FINGERPRINT))
    with pytest.raises(StaleEngineError, match="may not be loaded"):
        strict.lookup(SPEC, FINGERPRINT)
    assert rebuild.lookup(SPEC, FINGERPRINT) is None
    rebuilt = rebuild.get_or_build(SPEC, FINGERPRINT, _build(b"fresh"))
    assert not rebuilt.from_cache and rebuilt.engine_path.read_bytes() == b"fresh"
    assert rebuild.problems(SPEC, FINGERPRINT) == []


def test_force_rebuilds_a_valid_engine(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.get_or_build(SPEC, FINGERPRINT, _build(b"one"))
    assert cache.get_or_build(SPEC, FINGERPRINT, _build(b"two")).engine_path.read_bytes() == b"one"
    assert (
        cache.get_or_build(SPEC, FINGERPRINT, _build(b"two"), force=True).engine_path.read_bytes()
        == b"two"
    )


def test_cache_directory_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(InvalidSettingError, match="chmod 700"):
        EngineCache(shared)
    with pytest.raises(InvalidSettingError, match="rebuild, strict"):
        EngineCache(tmp_path / "x", policy="sometimes")


def test_timing_cache_round_trip(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    assert cache.read_timing_cache(FINGERPRINT) is None
    cache.write_timing_cache(FINGERPRINT, b"timing")
    assert cache.read_timing_cache(FINGERPRINT) == b"timing"
    assert cache.read_timing_cache(replace(FINGERPRINT, tensorrt_version="11.0")) is None


CONCURRENT_BUILD = """
import sys, time
sys.path.insert(0, {test_dir!r})
from pathlib import Path
from engine_stand_in import FINGERPRINT
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.spec import EngineSpec

def build():
    with open({log!r}, "a") as out:
        out.write("build\\n")
    time.sleep(1.5)
    return b"engine built once" * 1000, {{}}

spec = EngineSpec(model="m.onnx", model_sha256="d" * 64)
entry = EngineCache(Path({cache!r})).get_or_build(spec, FINGERPRINT, build, on_wait=lambda m: print("WAIT", m))
print(entry.from_cache, entry.engine_path)
"""


def test_two_processes_asking_for_the_same_engine_build_it_once(tmp_path: Path) -> None:
    log, cache = tmp_path / "builds.log", tmp_path / "engines"
    script = CONCURRENT_BUILD.format(
        test_dir=str(Path(__file__).parents[1]), log=str(log), cache=str(cache)
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), results
    assert log.read_text().count("build") == 1, "exactly one process built the engine"
    flags = sorted(out.split()[-2] for out, _ in results)
    assert flags == ["False", "True"], "one built it, the other waited and reused it"
    (engine,) = cache.glob("*.engine")
    assert engine.read_bytes() == b"engine built once" * 1000
    assert not list(cache.glob("*.partial"))
    assert os.access(engine, os.R_OK)


def test_ultralytics_engine_header() -> None:
    metadata = {"names": {"0": "person"}, "imgsz": [640, 640], "stride": 32, "task": "detect"}
    plan = b"\x00\x01TRT-plan-bytes" * 50
    header = json.dumps(metadata).encode()  # Ultralytics' own layout, written out independently
    written = len(header).to_bytes(4, byteorder="little", signed=True) + header + plan
    assert split_ultralytics_engine(written) == (metadata, plan)
    assert with_ultralytics_header(metadata, plan) == written
    assert split_ultralytics_engine(plan) == (None, plan)
    assert split_ultralytics_engine(b"ab") == (None, b"ab")
    fake_length = (10).to_bytes(4, "little") + b"not json!!" + plan
    assert split_ultralytics_engine(fake_length) == (None, fake_length)


def test_fingerprint_mismatches_name_the_fields() -> None:
    other = DeviceFingerprint("Orin", "8.7", "10.3.0.30", "12.6", "36.4.3")
    problems = FINGERPRINT.mismatches(other)
    assert len(problems) == 2 and any("gpu_name" in p for p in problems)


def test_a_cache_path_that_is_a_file_is_refused_with_the_parameter_to_change(
    tmp_path: Path,
) -> None:
    occupied = tmp_path / "engines"
    occupied.write_text("not a folder")
    with pytest.raises(InvalidSettingError, match="engine_cache_dir"):
        EngineCache(occupied).ensure_directory()
