"""package.xml can be released into a ROS distribution: format 3, rosdep keys that exist, licence.

rosdep keys were checked by hand against ros/rosdistro at commit
8468e88ccd523427f9131e39d2af0938f1c298b2 (2026-08-22), files rosdep/base.yaml and
rosdep/python.yaml, and the ROS package names against {humble,jazzy,kilted,rolling}/distribution.yaml
of the same commit. A new dependency must be checked there the same way before it joins a list
below. Libraries without a key (or with only a `-pip` key, which releases refuse) stay out of
package.xml and are optional at run time; the last tests check that for rosbags.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from catkin_pkg.changelog import get_changelog_from_path
from catkin_pkg.package import Package, parse_package
from conftest import REPO_ROOT

import yolo_trt_ros

ROSDISTRO_COMMIT = "8468e88ccd523427f9131e39d2af0938f1c298b2"

# ROS packages this package builds, runs or tests with (released in every distro listed above).
ROS_PACKAGES = frozenset(
    {
        "action_msgs",
        "ament_cmake",
        "ament_cmake_pytest",
        "ament_cmake_python",
        "ament_index_python",
        "builtin_interfaces",
        "diagnostic_msgs",
        "launch",
        "launch_ros",
        "launch_testing",
        "launch_testing_ros",
        "lifecycle_msgs",
        "rcl_interfaces",
        "rclpy",
        "rosidl_default_generators",
        "rosidl_default_runtime",
        "sensor_msgs",
        "std_msgs",
        "vision_msgs",
    }
)

# rosdep keys that exist in rosdep/python.yaml of ros/rosdistro at ROSDISTRO_COMMIT.
ROSDEP_KEYS = frozenset(
    {
        "python3-catkin-pkg",
        "python3-filelock",
        "python3-matplotlib",
        "python3-numpy",
        "python3-opencv",
        "python3-pytest",
        "python3-pytest-timeout",
        "python3-yaml",
    }
)

# Every top-level module yolo_trt_ros imports (outside the standard library), and the package.xml
# dependency that provides it.
DECLARED_IMPORTS = {
    "ament_index_python": "ament_index_python",
    "builtin_interfaces": "builtin_interfaces",
    "cv2": "python3-opencv",
    "diagnostic_msgs": "diagnostic_msgs",
    "filelock": "python3-filelock",
    "launch": "launch",
    "launch_ros": "launch_ros",
    "lifecycle_msgs": "lifecycle_msgs",
    "matplotlib": "python3-matplotlib",
    "numpy": "python3-numpy",
    "rcl_interfaces": "rcl_interfaces",
    "rclpy": "rclpy",
    "sensor_msgs": "sensor_msgs",
    "std_msgs": "std_msgs",
    "vision_msgs": "vision_msgs",
    "yaml": "python3-yaml",
}

# Imports with no usable rosdep key: optional, and what to install when a feature needs them.
OPTIONAL_IMPORTS = {
    "apsw": "pip install rosbags (it depends on apsw)",
    "cuda": "pip install cuda-bindings (GPU pipeline)",
    "nvidia": "pip install nvidia-nvimgcodec-cu12 (GPU JPEG decoding)",
    "onnx": "pip install onnx (precision conversion, TensorRT builds, torch backend)",
    "onnx2torch": "pip install onnx2torch (torch backend)",
    "onnxruntime": "pip install onnxruntime (only python3-onnxruntime-pip exists)",
    "rosbags": "pip install rosbags (only python3-rosbags-pip exists)",
    "tensorrt": "JetPack, or NVIDIA's TensorRT for x86 GPUs",
    # python3-torch exists, but the distributions' torch has no CUDA, which the backend needs
    "torch": "pip install torch (a CUDA build)",
    "ultralytics": "pip install ultralytics (.pt export only)",
}

# sha256 of the Apache License 2.0 text as published at https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

PACKAGE_XML = REPO_ROOT / "package.xml"


@pytest.fixture(scope="module")
def package() -> Package:
    warnings: list[str] = []
    parsed = parse_package(str(PACKAGE_XML), warnings=warnings)
    assert warnings == [], f"catkin_pkg warns about package.xml: {warnings}"
    return parsed


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    return config


def all_dependencies(package: Package) -> dict[str, list[str]]:
    kinds = (
        "build_depends",
        "buildtool_depends",
        "build_export_depends",
        "buildtool_export_depends",
        "exec_depends",
        "test_depends",
        "doc_depends",
    )
    return {kind: [dependency.name for dependency in getattr(package, kind)] for kind in kinds}


def third_party_imports() -> dict[str, set[str]]:
    """Top-level modules imported anywhere in yolo_trt_ros/ (statically or by importlib), by file."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "yolo_trt_ros").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("import_module", "find_spec")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("__future__", "yolo_trt_ros"):
                    found.setdefault(top, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def test_package_xml_is_format_3_and_valid(package: Package) -> None:
    assert package.package_format == 3
    assert package.name == "yolo_trt_ros"
    package.validate()  # raises InvalidPackage on what catkin_pkg (and bloom) refuse
    assert package.version == yolo_trt_ros.__version__
    assert {url.type for url in package.urls} == {"website", "repository", "bugtracker"}
    assert all(maintainer.email for maintainer in package.maintainers)


def test_every_dependency_is_a_known_ros_package_or_a_verified_rosdep_key(
    package: Package,
) -> None:
    unknown = {
        kind: [name for name in names if name not in ROS_PACKAGES | ROSDEP_KEYS]
        for kind, names in all_dependencies(package).items()
    }
    unknown = {kind: names for kind, names in unknown.items() if names}
    assert unknown == {}, (
        f"dependencies neither a known ROS package nor a rosdep key checked in rosdistro "
        f"{ROSDISTRO_COMMIT}: {unknown}. Check the key in ros/rosdistro's rosdep/*.yaml and "
        "add it to ROSDEP_KEYS, or make the library optional."
    )


def test_no_dependency_is_a_pip_key(package: Package) -> None:
    names = [name for names in all_dependencies(package).values() for name in names]
    assert [name for name in names if name.endswith("-pip")] == []
    assert not [key for key in ROSDEP_KEYS if key.endswith("-pip")]


def test_every_third_party_import_is_declared_or_optional(package: Package) -> None:
    imports = third_party_imports()
    unclassified = {
        module: sorted(files)
        for module, files in imports.items()
        if module not in DECLARED_IMPORTS and module not in OPTIONAL_IMPORTS
    }
    assert unclassified == {}, (
        "imports with no entry in DECLARED_IMPORTS (a package.xml dependency) or OPTIONAL_IMPORTS "
        f"(no rosdep key: optional at run time): {unclassified}"
    )
    runtime = {dependency.name for dependency in package.exec_depends}
    missing = {
        module: key
        for module, key in DECLARED_IMPORTS.items()
        if module in imports and key not in runtime
    }
    assert missing == {}, f"imported but not an exec_depend/depend of package.xml: {missing}"
    assert "cv2" in imports and "rcl_interfaces" in imports  # the scan sees through the tree


def test_licence_file_matches_package_xml_and_setup_cfg(package: Package) -> None:
    assert [str(licence) for licence in package.licenses] == ["Apache-2.0"]
    files = [licence.file for licence in package.licenses]
    assert files == ["LICENSE"]
    text = (REPO_ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256, (
        "LICENSE is not the unmodified Apache License 2.0 text"
    )
    metadata = setup_cfg()["metadata"]
    assert metadata["license"] == "Apache-2.0"
    assert "LICENSE" in metadata["license_files"].split()


def test_setup_cfg_supports_the_python_of_every_targeted_ros_distro() -> None:
    config = setup_cfg()
    assert config["options"]["python_requires"].strip() == ">=3.10"  # Humble's Python is 3.10
    classifiers = config["metadata"].get("classifiers", "").strip().splitlines()
    if classifiers:
        versions = {c.rsplit("::", 1)[1].strip() for c in classifiers if "Python :: 3." in c}
        assert versions == {"3.10", "3.11", "3.12"}
    assert config["metadata"]["maintainer_email"] == package_maintainer_email()


def package_maintainer_email() -> str:
    emails = [maintainer.email for maintainer in parse_package(str(PACKAGE_XML)).maintainers]
    return str(emails[0])


@pytest.mark.filterwarnings("ignore:nodes.Node.traverse:DeprecationWarning")
def test_changelog_has_a_section_for_the_package_version(package: Package) -> None:
    path = REPO_ROOT / "CHANGELOG.rst"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == f"Changelog for package {package.name}"
    assert lines[0] == lines[2] == "^" * len(lines[1])
    changelog = get_changelog_from_path(str(path), package.name)
    assert changelog is not None
    versions = [version for version, _date, _content in changelog.foreach_version()]
    assert package.version in versions, (
        f"CHANGELOG.rst has no section for {package.version} (it has {versions}): add "
        f"'{package.version} (YYYY-MM-DD)' (catkin_generate_changelog writes one)"
    )
    assert str(changelog.get_content_of_version(package.version)).strip()


# --- rosbags has no rosdep key: the replay tools name it when missing, the node never needs it ---


@pytest.fixture
def without_rosbags(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import rosbags` fails as it does where it is not installed."""
    fake = tmp_path / "no_rosbags" / "rosbags"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'rosbags'\", name='rosbags')\n",
        encoding="utf-8",
    )
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(fake.parent), *filter(None, [environ.get("PYTHONPATH")])]
    )
    return environ


def run_python(code: str, environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # What a launcher in lib/yolo_trt_ros/ does: import the module, then call main().
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environ,
        cwd=cwd,
    )


def test_the_fake_environment_really_hides_rosbags(
    without_rosbags: dict[str, str], tmp_path: Path
) -> None:
    completed = run_python("import rosbags", without_rosbags, tmp_path)
    assert completed.returncode == 1
    assert "No module named 'rosbags'" in completed.stderr


@pytest.mark.parametrize(
    ("module", "arguments"),
    [
        ("yolo_trt_ros.ros_tools.bag_replay", ["{bag}"]),
        ("yolo_trt_ros.tools.make_bag", ["{image}", "{out}"]),
    ],
)
def test_bag_tools_without_rosbags_say_pip_install_rosbags(
    module: str, arguments: list[str], without_rosbags: dict[str, str], tmp_path: Path
) -> None:
    bag = tmp_path / "drive.mcap"
    bag.write_bytes(b"not read: rosbags is checked first")
    image = tmp_path / "frame.png"
    assert cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out.mcap"
    argv = [a.format(bag=bag, image=image, out=out) for a in arguments]
    code = f"import sys\nfrom {module} import main\nsys.exit(main({argv!r}))\n"
    completed = run_python(code, without_rosbags, tmp_path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert "pip install rosbags" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
    assert not out.exists()


def test_detector_node_never_imports_rosbags(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import yolo_trt_ros.ros.detector_node\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rosbags', 'apsw')))\n"
    )
    completed = run_python(code, dict(os.environ), tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
