"""Ultralytics' .engine files: a 4-byte little-endian length, JSON metadata, then the engine.

Ultralytics (``ultralytics/engine/exporter.py``) writes ``len(meta).to_bytes(4, "little")``, the
metadata JSON (class names, image size, stride, ...), then ``engine.serialize()``. A plain
TensorRT plan has no such header; its first bytes never parse as a sane length followed by JSON.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["split_ultralytics_engine", "with_ultralytics_header"]

_MAX_HEADER = 1 << 20  # a real header is a few KB; anything larger is not one


def split_ultralytics_engine(data: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """Return (metadata, serialized engine); metadata is None for a plain TensorRT plan."""
    if len(data) < 4:
        return None, data
    length = int.from_bytes(data[:4], "little", signed=True)
    if not 2 <= length <= min(_MAX_HEADER, len(data) - 4):
        return None, data
    try:
        metadata = json.loads(data[4 : 4 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, data
    if not isinstance(metadata, dict):
        return None, data
    return metadata, data[4 + length :]


def with_ultralytics_header(metadata: dict[str, Any], engine: bytes) -> bytes:
    """Prefix an engine with Ultralytics' header (so our engines also load in Ultralytics)."""
    header = json.dumps(metadata).encode("utf-8")
    return len(header).to_bytes(4, "little", signed=True) + header + engine
