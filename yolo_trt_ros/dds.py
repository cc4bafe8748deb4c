"""The DDS configuration shipped for camera frames, and the environment that applies it (no ROS).

DDS middlewares read their configuration from environment variables when a process starts, so a
launch file applies a profile by giving them to each node it starts, the camera driver too
(``detect.launch.py`` gives them to the detector only, never to the including launch file):

    from yolo_trt_ros.dds import dds_environment
    Node(package="usb_cam", executable="usb_cam_node_exe",
         additional_env=dds_environment().variables)   # launch_ros.actions

``dds_environment`` sets nothing where the user already chose a profile, where the opt-out
``YOLO_TRT_ROS_DDS_PROFILE=off`` is set, or for a middleware without a shipped profile.
``frame_loss_risk`` says when a frame size and reliability are known to lose frames on the
current setup, for the detector's diagnostics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

from yolo_trt_ros.errors import InvalidSettingError

__all__ = [
    "CYCLONEDDS_ICEORYX_PROFILE",
    "CYCLONEDDS_PROFILE",
    "FASTDDS_DEFAULT_SHM_SEGMENT_BYTES",
    "FASTDDS_PROFILE",
    "OPT_OUT_VARIABLE",
    "DdsEnvironment",
    "dds_environment",
    "fastdds_shm_segment_bytes",
    "frame_loss_risk",
    "profile_path",
]

FASTDDS_PROFILE: Final = "fastdds_camera_frames.xml"
CYCLONEDDS_PROFILE: Final = "cyclonedds_camera_frames.xml"
CYCLONEDDS_ICEORYX_PROFILE: Final = "cyclonedds_camera_frames_iceoryx.xml"
OPT_OUT_VARIABLE: Final = "YOLO_TRT_ROS_DDS_PROFILE"
"""Set to off (or 0, false, no) to keep the middleware's own defaults."""
FASTDDS_DEFAULT_SHM_SEGMENT_BYTES: Final = 512 * 1024
"""Fast DDS's built-in shared-memory segment: smaller than one 640x480 rgb8 frame."""

_PACKAGE = "yolo_trt_ros"
_FASTDDS_RMWS: Final = frozenset({"rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp"})
_CYCLONE_RMW: Final = "rmw_cyclonedds_cpp"
_DEFAULT_RMW: Final = "rmw_fastrtps_cpp"  # ROS 2 Humble and Jazzy
_FASTDDS_VARIABLES: Final = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
_CYCLONE_VARIABLE: Final = "CYCLONEDDS_URI"
_OFF_WORDS: Final = frozenset({"off", "0", "false", "no", "none"})
_UDP_DATAGRAM_BYTES: Final = 65_500
_FASTDDS_XMLNS: Final = "{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}"


@dataclass(frozen=True)
class DdsEnvironment:
    """Environment variables to set before starting ROS processes, and why (one line)."""

    variables: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def profile_path(name: str = FASTDDS_PROFILE, environ: Mapping[str, str] | None = None) -> Path:
    """Return the installed (share/yolo_trt_ros/config/dds/) or source-tree path of a profile."""
    environ = os.environ if environ is None else environ
    prefixes = [p for p in environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    candidates = [Path(p) / "share" / _PACKAGE / "config" / "dds" / name for p in prefixes]
    candidates.append(Path(__file__).resolve().parent.parent / "config" / "dds" / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InvalidSettingError(
        f"the DDS profile {name} is not installed (looked in {', '.join(map(str, candidates))}); "
        "rebuild the package (colcon build) or set "
        f"{OPT_OUT_VARIABLE}=off to run without it"
    )


def dds_environment(  # noqa: PLR0911 - one return per documented case
    rmw: str | None = None,
    *,
    enabled: bool = True,
    shared_memory: bool = False,
    environ: Mapping[str, str] | None = None,
) -> DdsEnvironment:
    """Return the variables that apply the shipped profile for ``rmw`` (default: the current one).

    ``enabled=False`` (a launch argument) or ``YOLO_TRT_ROS_DDS_PROFILE=off`` opts out; a profile
    variable the user already set wins. ``shared_memory`` picks the Cyclone DDS iceoryx variant.
    """
    environ = os.environ if environ is None else environ
    rmw = rmw or environ.get("RMW_IMPLEMENTATION") or _DEFAULT_RMW
    if not enabled:
        return DdsEnvironment(reason="DDS profile disabled by the launch argument")
    if environ.get(OPT_OUT_VARIABLE, "").strip().lower() in _OFF_WORDS:
        return DdsEnvironment(reason=f"DDS profile disabled by {OPT_OUT_VARIABLE}")
    if rmw in _FASTDDS_RMWS:
        chosen = [name for name in _FASTDDS_VARIABLES if environ.get(name)]
        if chosen:
            return DdsEnvironment(reason=f"keeping the user's Fast DDS profile ({chosen[0]})")
        path = str(profile_path(FASTDDS_PROFILE, environ))
        return DdsEnvironment(
            dict.fromkeys(_FASTDDS_VARIABLES, path),
            f"Fast DDS profile {path} (64 MiB shared-memory segment, UDP kept)",
        )
    if rmw == _CYCLONE_RMW:
        if environ.get(_CYCLONE_VARIABLE):
            return DdsEnvironment(reason=f"keeping the user's {_CYCLONE_VARIABLE}")
        name = CYCLONEDDS_ICEORYX_PROFILE if shared_memory else CYCLONEDDS_PROFILE
        path = str(profile_path(name, environ))
        return DdsEnvironment({_CYCLONE_VARIABLE: f"file://{path}"}, f"Cyclone DDS profile {path}")
    return DdsEnvironment(reason=f"no DDS profile is shipped for {rmw}; its defaults apply")


def fastdds_shm_segment_bytes(environ: Mapping[str, str] | None = None) -> int:
    """Return the shared-memory segment size Fast DDS will use (0: no shared memory).

    Reads the profile file named by the environment the way Fast DDS does: its default
    participant profile's transports, or the built-in ones (512 KiB segment) without a file.
    """
    environ = os.environ if environ is None else environ
    if environ.get("FASTDDS_BUILTIN_TRANSPORTS", "").upper() in {"UDPV4", "UDPV6"}:
        return 0
    path = next((environ[n] for n in reversed(_FASTDDS_VARIABLES) if environ.get(n)), "")
    if not path:
        return FASTDDS_DEFAULT_SHM_SEGMENT_BYTES
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise InvalidSettingError(f"cannot read the Fast DDS profile {path}: {error}") from None

    def find(node: ElementTree.Element, tag: str) -> list[ElementTree.Element]:
        return node.findall(f".//{_FASTDDS_XMLNS}{tag}") + node.findall(f".//{tag}")

    participants = [p for p in find(root, "participant") if p.get("is_default_profile") == "true"]
    if not participants:
        return FASTDDS_DEFAULT_SHM_SEGMENT_BYTES
    used = {t.text.strip() for t in find(participants[0], "transport_id") if t.text}
    builtin = [b.text for b in find(participants[0], "useBuiltinTransports") if b.text]
    segment = 0 if builtin and builtin[0].strip() == "false" else FASTDDS_DEFAULT_SHM_SEGMENT_BYTES
    for descriptor in find(root, "transport_descriptor"):
        ids = [t.text.strip() for t in find(descriptor, "transport_id") if t.text]
        kinds = [t.text.strip() for t in find(descriptor, "type") if t.text]
        if ids and ids[0] in used and kinds and kinds[0] == "SHM":
            sizes = [s.text.strip() for s in find(descriptor, "segment_size") if s.text]
            size = int(sizes[0]) if sizes else FASTDDS_DEFAULT_SHM_SEGMENT_BYTES
            segment = max(segment, size)
    return segment


def frame_loss_risk(
    frame_bytes: int | None,
    best_effort: bool,
    rmw: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return why this frame size and reliability lose frames on this DDS setup, or ''.

    Known to drop: BEST_EFFORT frames larger than one UDP datagram that do not fit the shared
    memory segment (any lost fragment loses the frame; measured 9 of 200 1080p frames arriving).
    ``frame_bytes`` None: the size is unknown because every frame so far was lost.
    """
    environ = os.environ if environ is None else environ
    if not best_effort or (frame_bytes is not None and frame_bytes <= _UDP_DATAGRAM_BYTES):
        return ""
    rmw = rmw or environ.get("RMW_IMPLEMENTATION") or _DEFAULT_RMW
    size = "large" if frame_bytes is None else f"{frame_bytes / 1e6:.1f} MB"
    if rmw in _FASTDDS_RMWS:
        try:
            segment = fastdds_shm_segment_bytes(environ)
        except InvalidSettingError as error:
            return f"{error}; BEST_EFFORT {size} frames are likely lost"
        if frame_bytes is not None and 2 * frame_bytes <= segment:
            return ""
        fit = "may not fit" if frame_bytes is None else "do not fit"
        return (
            f"BEST_EFFORT {size} frames {fit} Fast DDS's {segment // 1024} KiB shared-memory "
            "segment and travel as UDP fragments, which lose most of them; apply the shipped "
            f"profile in the camera and the detector: export FASTRTPS_DEFAULT_PROFILES_FILE="
            f"{_profile_hint(FASTDDS_PROFILE, environ)} (the package's launch files set it)"
        )
    if rmw == _CYCLONE_RMW and not environ.get(_CYCLONE_VARIABLE):
        return (
            f"BEST_EFFORT {size} frames over Cyclone DDS with its default socket buffers lose "
            f"frames; export CYCLONEDDS_URI=file://{_profile_hint(CYCLONEDDS_PROFILE, environ)} "
            "and raise net.core.rmem_max (see docs/transport.md)"
        )
    return ""


def _profile_hint(name: str, environ: Mapping[str, str]) -> str:
    try:
        return str(profile_path(name, environ))
    except InvalidSettingError:
        return f"share/{_PACKAGE}/config/dds/{name}"
