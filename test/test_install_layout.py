"""The colcon install is a real ROS 2 package: indexed, runnable, with its files in place."""

import configparser
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ament_index_python.packages import (
    get_package_prefix,
    get_package_share_directory,
    get_packages_with_prefixes,
)
from catkin_pkg.package import parse_package
from conftest import REPO_ROOT

import yolo_trt_ros
from yolo_trt_ros.testing.node_harness import PACKAGE, executables_where_ros2_run_looks


def console_scripts() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    entries = {}
    for line in config["options.entry_points"]["console_scripts"].strip().splitlines():
        name, target = line.split("=", 1)
        entries[name.strip()] = target.strip()
    return entries


def test_package_is_in_the_ament_index() -> None:
    packages = get_packages_with_prefixes()
    assert PACKAGE in packages
    assert "vision_msgs" in packages
    assert Path(packages[PACKAGE]).name == PACKAGE  # the colcon install, not the source tree


def test_python_package_is_imported_from_the_install_tree() -> None:
    installed = Path(get_package_prefix(PACKAGE))
    assert Path(yolo_trt_ros.__file__).is_relative_to(installed)


def test_every_console_script_is_a_ros2_run_executable() -> None:
    expected = console_scripts()
    assert expected, "setup.cfg lists no console_scripts"
    found = executables_where_ros2_run_looks()
    assert set(expected) <= set(found)
    for name, target in expected.items():
        module, function = target.split(":")
        launcher = found[name].read_text(encoding="utf-8")
        assert f"from {module} import {function}" in launcher


def test_doctor_runs_from_where_ros2_run_looks_and_finds_nothing_missing() -> None:
    doctor = executables_where_ros2_run_looks()["doctor"]
    completed = subprocess.run(
        [str(doctor), "--json"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    findings = {finding["name"]: finding for finding in json.loads(completed.stdout)}
    required = {name for name, finding in findings.items() if finding["required"]}
    assert required == {"python", "rclpy", "yolo_trt_ros interfaces", "vision_msgs"}
    assert all(findings[name]["ok"] for name in required)
    assert "match upstream 4.1.1" in findings["vision_msgs"]["detail"]
    # The test environment installs the bundled model (requirements/dev.txt).
    assert findings["default model"]["detail"].endswith("yolo11n.onnx")


def test_share_holds_package_xml_launch_config_and_interfaces() -> None:
    share = Path(get_package_share_directory(PACKAGE))
    assert (share / "package.xml").is_file()
    assert (share / "launch").is_dir()
    assert (share / "config").is_dir()
    for interface in ("msg/InferenceTiming", "msg/EngineInfo", "action/ExportEngine"):
        assert (share / f"{interface}.idl").is_file(), interface
        assert (share / f"{interface}.json").is_file(), interface  # type description


def _files_under(folder: Path) -> set[Path]:
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_every_launch_and_config_file_is_installed_subfolders_included() -> None:
    share = Path(get_package_share_directory(PACKAGE))
    for folder in ("launch", "config"):
        missing = _files_under(REPO_ROOT / folder) - _files_under(share / folder)
        assert not missing, f"not installed into share/{PACKAGE}/{folder}: {sorted(missing)}"
    profiles = sorted((share / "config" / "power_modes").glob("*.yaml"))
    assert len(profiles) >= 7 and (share / "launch" / "detect_15w.launch.py").is_file()
    assert (share / "config" / "examples" / "two_cameras.yaml").is_file()


@pytest.mark.parametrize("source", ["package.xml", "compat/vision_msgs/package.xml"])
def test_package_xml_is_valid_format_3(source: str) -> None:
    package = parse_package(REPO_ROOT / source)  # raises on an invalid manifest
    package.validate()
    assert package.package_format == 3
    assert all("@" in maintainer.email for maintainer in package.maintainers)


def test_package_xml_declares_the_ros_dependencies() -> None:
    package = parse_package(REPO_ROOT / "package.xml")
    declared = {dependency.name for dependency in package.exec_depends + package.build_depends}
    declared |= {dependency.name for dependency in package.test_depends}
    for needed in (
        "rclpy",
        "sensor_msgs",
        "vision_msgs",
        "diagnostic_msgs",
        "lifecycle_msgs",
        "std_msgs",
        "builtin_interfaces",
        "action_msgs",
        "launch",
        "launch_ros",
        "launch_testing",
    ):
        assert needed in declared, needed
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in {group.name for group in package.member_of_groups}


def test_versions_agree() -> None:
    manifest_version = parse_package(REPO_ROOT / "package.xml").version
    assert yolo_trt_ros.__version__ == manifest_version
    # the egg-info rosidl_generator_py installs carries package.xml's version
    assert importlib.metadata.version(PACKAGE) == manifest_version


def test_python_m_pytest_in_the_source_tree_stops_with_what_to_run_instead() -> None:
    # `python -m pytest` puts the current folder first on sys.path: yolo_trt_ros then comes from
    # the source tree, which lacks the generated msg/ module that only install/ has.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--co",
            "-q",
            "test/conftest.py",
        ],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "imported from the source tree" in output, output
    assert "not `python -m pytest" in output, output
