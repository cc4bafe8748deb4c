"""The helpers scripts/setup.sh runs: the wheel CMake fix and the venv's local_setup files."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy
import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import fix_wheel_cmake_paths
import write_venv_setup

WHEEL_EXPORT = """\
set_target_properties(std_msgs::std_msgs__rosidl_generator_py PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "/opt/python/cp311-cp311/include/python3.11;\
/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include;${_IMPORT_PREFIX}/include"
)
"""


def test_wheel_cmake_exports_get_this_interpreters_include_dirs(tmp_path: Path) -> None:
    export = tmp_path / "share" / "std_msgs" / "cmake" / "export_Export.cmake"
    export.parent.mkdir(parents=True)
    export.write_text(WHEEL_EXPORT)
    untouched = tmp_path / "share" / "rclpy" / "cmake" / "other.cmake"
    untouched.parent.mkdir(parents=True)
    untouched.write_text("set(X 1)\n")

    assert fix_wheel_cmake_paths.fix(tmp_path) == [export]
    fixed = export.read_text()
    assert "/opt/python" not in fixed
    include_dirs = f"{sysconfig.get_paths()['include']};{numpy.get_include()};${{_IMPORT_PREFIX}}"
    assert f'"{include_dirs}/include"' in fixed
    assert untouched.read_text() == "set(X 1)\n"
    assert fix_wheel_cmake_paths.fix(tmp_path) == []  # idempotent


def source_and_print(venv: Path, shell: str, times: int = 2) -> dict[str, str]:
    """Source local_setup `times` times in a clean shell; return the variables it exports."""
    script = venv / ("local_setup.sh" if shell == "sh" else f"local_setup.{shell}")
    names = (
        "PATH",
        "AMENT_PREFIX_PATH",
        "LD_LIBRARY_PATH",
        "VIRTUAL_ENV",
        "_ROS_WHEELS_BOOTSTRAP_COMPLETE",
        "ROS_DISTRO",
        "RMW_IMPLEMENTATION",
    )
    command = f'. "{script}"; ' * times + " ".join(f'echo "{n}=${{{n}:-}}";' for n in names)
    completed = subprocess.run(
        [shell, "-c", command],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(line.split("=", 1) for line in completed.stdout.splitlines())


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_wheels_local_setup_makes_the_venv_the_ros_prefix(tmp_path: Path, shell: str) -> None:
    (tmp_path / "local_setup.sh").write_text(write_venv_setup.render(tmp_path, system_ros=False))
    (tmp_path / "local_setup.bash").write_text(f'. "{tmp_path}/local_setup.sh"\n')
    env = source_and_print(tmp_path, shell)
    assert env["VIRTUAL_ENV"] == str(tmp_path)
    assert env["PATH"] == f"{tmp_path}/bin:/usr/bin:/bin"  # prepended once, though sourced twice
    assert env["AMENT_PREFIX_PATH"] == str(tmp_path)
    assert env["LD_LIBRARY_PATH"].split(":")[-1] == f"{tmp_path}/lib"
    assert env["_ROS_WHEELS_BOOTSTRAP_COMPLETE"] == "1"
    assert env["ROS_DISTRO"] == "jazzy"
    assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"


def test_system_ros_local_setup_leaves_ros_variables_to_ros(tmp_path: Path) -> None:
    (tmp_path / "local_setup.sh").write_text(write_venv_setup.render(tmp_path, system_ros=True))
    env = source_and_print(tmp_path, "sh")
    assert env["AMENT_PREFIX_PATH"] == str(tmp_path)
    assert env["_ROS_WHEELS_BOOTSTRAP_COMPLETE"] == ""
    assert env["ROS_DISTRO"] == ""
