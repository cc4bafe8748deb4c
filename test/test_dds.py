"""The shipped DDS profiles and the environment that applies them (yolo_trt_ros.dds, no ROS)."""

from pathlib import Path
from xml.etree import ElementTree

import pytest

from yolo_trt_ros.dds import (
    CYCLONEDDS_ICEORYX_PROFILE,
    CYCLONEDDS_PROFILE,
    FASTDDS_DEFAULT_SHM_SEGMENT_BYTES,
    FASTDDS_PROFILE,
    dds_environment,
    fastdds_shm_segment_bytes,
    frame_loss_risk,
    profile_path,
)
from yolo_trt_ros.errors import InvalidSettingError

SOURCE_PROFILES = Path(__file__).resolve().parents[1] / "config" / "dds"
FRAME_1080P = 1920 * 1080 * 3
FRAME_VGA = 640 * 480 * 3
FASTDDS_NS = "{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}"


def test_shipped_profiles_are_well_formed_xml() -> None:
    for name in (FASTDDS_PROFILE, CYCLONEDDS_PROFILE, CYCLONEDDS_ICEORYX_PROFILE):
        ElementTree.parse(SOURCE_PROFILES / name)  # raises on malformed XML


@pytest.mark.parametrize("name", [CYCLONEDDS_PROFILE, CYCLONEDDS_ICEORYX_PROFILE])
def test_cyclone_requests_its_receive_buffer_without_requiring_it(name: str) -> None:
    # Cyclone refuses to create a participant when the kernel will not grant a buffer's "min"
    # (net.core.rmem_max is about 200 KiB by default): only "max", the requested size, is safe
    namespace = "{https://cdds.io/config}"
    root = ElementTree.parse(SOURCE_PROFILES / name).getroot()
    buffers = root.findall(f".//{namespace}Internal/{namespace}SocketReceiveBufferSize")
    assert len(buffers) == 1
    assert buffers[0].attrib == {"max": "16MB"}


def test_fastdds_profile_has_a_64_mib_segment_and_keeps_udp() -> None:
    root = ElementTree.parse(SOURCE_PROFILES / FASTDDS_PROFILE).getroot()
    kinds = {
        d.findtext(f"{FASTDDS_NS}type") for d in root.iter(f"{FASTDDS_NS}transport_descriptor")
    }
    assert kinds == {"SHM", "UDPv4"}
    segment = root.findtext(f".//{FASTDDS_NS}segment_size")
    assert segment is not None and int(segment) == 64 * 2**20


def test_profile_path_prefers_the_install_prefix(tmp_path: Path) -> None:
    installed = tmp_path / "share" / "yolo_trt_ros" / "config" / "dds" / FASTDDS_PROFILE
    installed.parent.mkdir(parents=True)
    installed.write_text("<profiles/>")
    assert profile_path(FASTDDS_PROFILE, {"AMENT_PREFIX_PATH": str(tmp_path)}) == installed


def test_profile_path_names_where_it_looked() -> None:
    with pytest.raises(InvalidSettingError, match=r"no_such\.xml is not installed"):
        profile_path("no_such.xml", {})


def test_fastdds_gets_both_profile_variables() -> None:
    setup = dds_environment(environ={})
    expected = str(profile_path(FASTDDS_PROFILE, {}))
    assert setup.variables == {
        "FASTRTPS_DEFAULT_PROFILES_FILE": expected,
        "FASTDDS_DEFAULT_PROFILES_FILE": expected,
    }
    assert "64 MiB" in setup.reason


@pytest.mark.parametrize("word", ["off", "OFF", "0", "false", "no", "none"])
def test_opt_out_by_environment(word: str) -> None:
    setup = dds_environment(environ={"YOLO_TRT_ROS_DDS_PROFILE": word})
    assert setup.variables == {}
    assert "YOLO_TRT_ROS_DDS_PROFILE" in setup.reason


def test_opt_out_by_argument() -> None:
    assert dds_environment(enabled=False, environ={}).variables == {}


def test_a_profile_the_user_set_wins() -> None:
    setup = dds_environment(environ={"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"})
    assert setup.variables == {}
    assert "user's" in setup.reason


def test_cyclone_gets_a_file_uri_with_or_without_shared_memory() -> None:
    plain = dds_environment("rmw_cyclonedds_cpp", environ={})
    shm = dds_environment("rmw_cyclonedds_cpp", shared_memory=True, environ={})
    assert plain.variables["CYCLONEDDS_URI"].endswith(f"/{CYCLONEDDS_PROFILE}")
    assert shm.variables["CYCLONEDDS_URI"].endswith(f"/{CYCLONEDDS_ICEORYX_PROFILE}")
    assert plain.variables["CYCLONEDDS_URI"].startswith("file:///")
    environ = {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp", "CYCLONEDDS_URI": "file:///x.xml"}
    assert dds_environment(environ=environ).variables == {}


def test_other_middlewares_are_left_alone() -> None:
    setup = dds_environment(environ={"RMW_IMPLEMENTATION": "rmw_zenoh_cpp"})
    assert setup.variables == {}
    assert "rmw_zenoh_cpp" in setup.reason


def test_shm_segment_is_read_from_the_profile_file() -> None:
    assert fastdds_shm_segment_bytes({}) == FASTDDS_DEFAULT_SHM_SEGMENT_BYTES
    shipped = dds_environment(environ={}).variables
    assert fastdds_shm_segment_bytes(shipped) == 64 * 2**20
    assert fastdds_shm_segment_bytes({"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}) == 0


def test_shm_segment_of_a_udp_only_profile_is_zero(tmp_path: Path) -> None:
    profile = tmp_path / "udp.xml"
    profile.write_text(
        f'<profiles xmlns="{FASTDDS_NS[1:-1]}"><transport_descriptors><transport_descriptor>'
        "<transport_id>u</transport_id><type>UDPv4</type></transport_descriptor>"
        '</transport_descriptors><participant profile_name="p" is_default_profile="true"><rtps>'
        "<useBuiltinTransports>false</useBuiltinTransports><userTransports>"
        "<transport_id>u</transport_id></userTransports></rtps></participant></profiles>"
    )
    assert fastdds_shm_segment_bytes({"FASTRTPS_DEFAULT_PROFILES_FILE": str(profile)}) == 0


def test_unreadable_profile_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<profiles>")
    with pytest.raises(InvalidSettingError, match="cannot read the Fast DDS profile"):
        fastdds_shm_segment_bytes({"FASTRTPS_DEFAULT_PROFILES_FILE": str(broken)})


def test_best_effort_large_frames_without_the_profile_are_a_risk() -> None:
    risk = frame_loss_risk(FRAME_1080P, best_effort=True, environ={})
    assert "512 KiB" in risk
    assert FASTDDS_PROFILE in risk
    assert frame_loss_risk(FRAME_VGA, best_effort=True, environ={})


def test_no_risk_with_the_profile_reliable_or_small_frames() -> None:
    shipped = dds_environment(environ={}).variables
    assert frame_loss_risk(FRAME_1080P, best_effort=True, environ=shipped) == ""
    assert frame_loss_risk(FRAME_1080P, best_effort=False, environ={}) == ""
    assert frame_loss_risk(60_000, best_effort=True, environ={}) == ""


def test_cyclone_risk_points_to_its_profile() -> None:
    risk = frame_loss_risk(FRAME_1080P, True, "rmw_cyclonedds_cpp", environ={})
    assert CYCLONEDDS_PROFILE in risk
    assert frame_loss_risk(FRAME_1080P, True, "rmw_cyclonedds_cpp", {"CYCLONEDDS_URI": "x"}) == ""
