"""Read this device's fingerprint: GPU, compute capability, CUDA, TensorRT and Jetson L4T release."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from yolo_trt_ros.engine.spec import DeviceFingerprint
from yolo_trt_ros.errors import BackendNotAvailableError

__all__ = ["L4T_RELEASE_FILE", "current_fingerprint", "parse_l4t_release"]

L4T_RELEASE_FILE = Path("/etc/nv_tegra_release")
_L4T = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)")


def parse_l4t_release(text: str) -> str:
    """Turn ``# R36 (release), REVISION: 4.3, ...`` into ``36.4.3``; empty if not recognised."""
    match = _L4T.search(text)
    return f"{match.group(1)}.{match.group(2)}" if match else ""


def _l4t_release(path: Path = L4T_RELEASE_FILE) -> str:
    try:
        return parse_l4t_release(path.read_text(errors="replace"))
    except OSError:
        return ""  # not a Jetson


def _cuda_facts(device_index: int) -> tuple[str, str, str]:
    """GPU name, compute capability and CUDA runtime version, from cuda-python."""
    try:
        runtime = importlib.import_module("cuda.bindings.runtime")
    except ImportError as error:
        raise BackendNotAvailableError(
            f"reading the GPU needs cuda-python ({error}): pip install cuda-python"
        ) from None
    status, properties = runtime.cudaGetDeviceProperties(device_index)
    if int(status) != 0:
        raise BackendNotAvailableError(
            f"CUDA device {device_index} is not usable (cudaGetDeviceProperties: {status})"
        )
    status, version = runtime.cudaRuntimeGetVersion()
    name = (
        properties.name.split(b"\0", 1)[0].decode(errors="replace")
        if isinstance(properties.name, bytes)
        else str(properties.name)
    )
    return (
        name,
        f"{properties.major}.{properties.minor}",
        f"{version // 1000}.{version % 1000 // 10}",
    )


def current_fingerprint(device_index: int, tensorrt_version: str) -> DeviceFingerprint:
    """Read this machine's fingerprint for GPU ``device_index`` (DLA engines use the Jetson's GPU 0)."""
    name, capability, cuda = _cuda_facts(device_index)
    return DeviceFingerprint(name, capability, tensorrt_version, cuda, _l4t_release())
