"""The engine cache: one engine file and one JSON sidecar per cache key, written atomically.

Engines are code (TensorRT can embed plugins), so the cache directory is private to the user and
an engine is only ever loaded when its sidecar matches this device, this TensorRT and the
engine's own sha256. Anything else is rebuilt (policy ``rebuild``) or refused (policy ``strict``).
Builds of the same key are serialised by a file lock: a second process waits, then reuses the
first one's engine. The TensorRT timing cache lives beside the engines, one per TensorRT and GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from filelock import FileLock, Timeout

from yolo_trt_ros import __version__
from yolo_trt_ros.engine.spec import DeviceFingerprint, EngineSpec, cache_key, file_sha256
from yolo_trt_ros.errors import InvalidSettingError, StaleEngineError

__all__ = ["POLICIES", "CachedEngine", "EngineCache", "default_cache_dir"]

POLICIES: Final = ("rebuild", "strict")
SIDECAR_FORMAT: Final = 1


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/yolo_trt_ros/engines``, by default ``~/.cache/yolo_trt_ros/engines``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yolo_trt_ros" / "engines"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over ``path``."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class CachedEngine:
    """An engine in the cache, validated against this device."""

    key: str
    engine_path: Path
    sidecar: dict[str, Any]
    from_cache: bool
    build_seconds: float


class EngineCache:
    """Engines and their sidecars in one private directory."""

    def __init__(self, directory: Path | None = None, policy: str = "rebuild") -> None:
        if policy not in POLICIES:
            raise InvalidSettingError(
                f"cache policy must be one of {', '.join(POLICIES)}, not {policy!r}"
            )
        self.directory = (directory or default_cache_dir()).expanduser()
        self.policy = policy
        if self.directory.exists():  # otherwise made (private) on the first write
            self.ensure_directory()

    def ensure_directory(self) -> None:
        """Create the cache directory, private to the user; refuse one others can write to."""
        if self.directory.exists() and not self.directory.is_dir():
            raise InvalidSettingError(
                f"engine cache {self.directory} is a file, not a folder: set engine_cache_dir to a folder"
            )
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise InvalidSettingError(
                f"cannot create the engine cache {self.directory} ({error.strerror}): set "
                "engine_cache_dir to a folder you can write to"
            ) from None
        info = self.directory.stat()
        if info.st_uid != os.getuid():
            raise InvalidSettingError(
                f"engine cache {self.directory} belongs to another user; engines are code: use your own folder"
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise InvalidSettingError(
                f"engine cache {self.directory} is writable by other users; engines are code: run chmod 700 {self.directory}"
            )

    def engine_path(self, key: str) -> Path:
        """Where the engine for a key lives."""
        return self.directory / f"{key}.engine"

    def sidecar_path(self, key: str) -> Path:
        """Where the engine's JSON sidecar lives."""
        return self.directory / f"{key}.json"

    def timing_cache_path(self, fingerprint: DeviceFingerprint, scope: str = "") -> Path:
        """Return the timing cache path for this TensorRT, GPU and scope (e.g. the precision).

        A timing cache is portable across neither TensorRT versions nor GPUs, and TensorRT 8.6
        refuses one made for another precision (a Myelin error), so each precision has its own.
        """
        gpu = "".join(c if c.isalnum() else "_" for c in fingerprint.gpu_name)
        suffix = f"-{scope}" if scope else ""
        return (
            self.directory
            / f"timing-trt{fingerprint.tensorrt_version}-{gpu}-sm{fingerprint.compute_capability}{suffix}.cache"
        )

    def problems(self, spec: EngineSpec, fingerprint: DeviceFingerprint) -> list[str]:
        """Why the cached engine for this spec may not be loaded here (empty: it may)."""
        return self._inspect(spec, fingerprint)[1]

    def _inspect(
        self, spec: EngineSpec, fingerprint: DeviceFingerprint
    ) -> tuple[dict[str, Any], list[str]]:
        """Read the sidecar once; return it and every reason the entry may not be loaded."""
        key = cache_key(spec, fingerprint)
        engine, sidecar_path = self.engine_path(key), self.sidecar_path(key)
        try:
            sidecar = json.loads(sidecar_path.read_text())
            recorded = DeviceFingerprint(**sidecar["fingerprint"])
            recorded_spec = sidecar["spec"]
            recorded_hash = sidecar["engine_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            return {}, [
                f"sidecar {sidecar_path.name} is unreadable ({type(error).__name__}: {error})"
            ]
        found = []
        if sidecar.get("format") != SIDECAR_FORMAT:
            found.append(f"sidecar format {sidecar.get('format')!r}, expected {SIDECAR_FORMAT}")
        if sidecar.get("key") != key:
            found.append(f"sidecar is for key {sidecar.get('key')!r}, not {key!r}")
        found += fingerprint.mismatches(recorded)
        expected_spec = json.loads(json.dumps(asdict(spec) | {"model": None}))
        if {**recorded_spec, "model": None} != expected_spec:
            found.append("sidecar's build settings differ from the requested ones")
        if not engine.is_file():
            found.append(f"engine file {engine.name} is missing")
        elif file_sha256(engine) != recorded_hash:
            found.append(
                f"engine file {engine.name} does not match its recorded sha256 (truncated or modified)"
            )
        return sidecar, found

    def lookup(self, spec: EngineSpec, fingerprint: DeviceFingerprint) -> CachedEngine | None:
        """Return the valid cached engine, None if there is none (or, policy rebuild, a bad one).

        Raises:
            StaleEngineError: policy strict, and an engine exists that may not be loaded here.

        """
        key = cache_key(spec, fingerprint)
        if not self.sidecar_path(key).exists() and not self.engine_path(key).exists():
            return None
        sidecar, found = self._inspect(spec, fingerprint)
        if found:
            if self.policy == "strict":
                raise StaleEngineError(
                    f"cached engine {self.engine_path(key)} may not be loaded: {'; '.join(found)}. "
                    "Rebuild it (export with force, or cache policy rebuild) or delete it."
                )
            return None
        return CachedEngine(key, self.engine_path(key), sidecar, from_cache=True, build_seconds=0.0)

    def store(
        self,
        spec: EngineSpec,
        fingerprint: DeviceFingerprint,
        engine: bytes,
        build_seconds: float,
        metadata: dict[str, Any] | None = None,
    ) -> CachedEngine:
        """Write an engine and then its sidecar (a reader never sees a sidecar without its engine)."""
        key = cache_key(spec, fingerprint)
        path = self.engine_path(key)
        self.ensure_directory()
        _write_atomically(path, engine)
        sidecar = {
            "format": SIDECAR_FORMAT,
            "key": key,
            "spec": asdict(spec),
            "fingerprint": asdict(fingerprint),
            "engine_file": path.name,
            "engine_sha256": hashlib.sha256(engine).hexdigest(),
            "engine_bytes": len(engine),
            "build_seconds": round(build_seconds, 3),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "producer": f"yolo_trt_ros {__version__}",
            "metadata": metadata or {},
        }
        _write_atomically(self.sidecar_path(key), (json.dumps(sidecar, indent=1) + "\n").encode())
        return CachedEngine(key, path, sidecar, from_cache=False, build_seconds=build_seconds)

    def get_or_build(
        self,
        spec: EngineSpec,
        fingerprint: DeviceFingerprint,
        build: Callable[[], tuple[bytes, dict[str, Any]]],
        *,
        force: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> CachedEngine:
        """Return the cached engine, or build and store it; one builder per key across processes.

        ``build`` returns the serialized engine and its metadata. ``on_wait`` is told, every few
        seconds, that another process holds the build lock.
        """
        key = cache_key(spec, fingerprint)
        self.ensure_directory()
        lock = FileLock(str(self.directory / f"{key}.lock"))
        waited = 0.0
        while True:
            try:
                lock.acquire(timeout=5.0)
                break
            except Timeout:
                waited += 5.0
                if on_wait is not None:
                    on_wait(f"waiting {waited:.0f} s for another process building {key}")
        try:
            found = None if force else self.lookup(spec, fingerprint)
            if found is not None:
                return found
            started = time.monotonic()
            engine, metadata = build()
            return self.store(spec, fingerprint, engine, time.monotonic() - started, metadata)
        finally:
            lock.release()

    def read_timing_cache(self, fingerprint: DeviceFingerprint, scope: str = "") -> bytes | None:
        """Return the saved timing cache for this TensorRT, GPU and scope, if any."""
        path = self.timing_cache_path(fingerprint, scope)
        return path.read_bytes() if path.is_file() else None

    def write_timing_cache(
        self, fingerprint: DeviceFingerprint, data: bytes, scope: str = ""
    ) -> None:
        """Save the timing cache atomically, under its own lock."""
        path = self.timing_cache_path(fingerprint, scope)
        self.ensure_directory()
        with FileLock(str(path) + ".lock"):
            _write_atomically(path, data)

    def calibration_table_path(self, spec: EngineSpec, fingerprint: DeviceFingerprint) -> Path:
        """Where TensorRT's INT8 calibration table for this model, image set and input is kept.

        A table depends on the FP32 model, the calibration images, the input shape and the
        TensorRT version (its format), not on the GPU or the optimisation level.
        """
        height, width = spec.image_size
        name = (
            f"{spec.model_sha256[:16]}-{spec.calibration_sha256[:12]}-{height}x{width}"
            f"-b{spec.batch}-trt{fingerprint.tensorrt_version}.table"
        )
        return self.directory / "calibration" / name

    def read_calibration_table(
        self, spec: EngineSpec, fingerprint: DeviceFingerprint
    ) -> bytes | None:
        """Return the saved INT8 calibration table for the spec, if any."""
        path = self.calibration_table_path(spec, fingerprint)
        return path.read_bytes() if path.is_file() else None

    def write_calibration_table(
        self, spec: EngineSpec, fingerprint: DeviceFingerprint, table: bytes
    ) -> None:
        """Save an INT8 calibration table atomically."""
        path = self.calibration_table_path(spec, fingerprint)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, table)

    def set_timing_cache_aside(
        self, fingerprint: DeviceFingerprint, scope: str = ""
    ) -> Path | None:
        """Move a timing cache TensorRT refused to ``<name>.refused`` (kept for inspection)."""
        path = self.timing_cache_path(fingerprint, scope)
        if not path.is_file():
            return None
        aside = path.with_name(path.name + ".refused")
        with FileLock(str(path) + ".lock"):
            path.replace(aside)
        return aside
