"""The logic behind the launch files, without the launch packages: profiles, params files, plans.

Expected profile values are read from the shipped YAML files with plain `yaml.safe_load`, not
through the loader under test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT
from fake_nvpmodel import FakeNvpmodel
from test_nvpmodel import BOARDS

from yolo_trt_ros.errors import InvalidProfileError, InvalidSettingError
from yolo_trt_ros.jetson import Nvpmodel
from yolo_trt_ros.launch_support import (
    DETECT_ARGUMENTS,
    EXPORT_ARGUMENTS,
    find_profile,
    load_profile,
    plan_detector,
    plan_export,
    profile_for_mode,
    profile_paths,
    read_node_parameters,
    write_parameters_file,
)
from yolo_trt_ros.launch_support import arguments as arguments_module
from yolo_trt_ros.launch_support.arguments import DETECTOR_PASSTHROUGH
from yolo_trt_ros.launch_support.params_files import node_name_matches
from yolo_trt_ros.settings import PARAMETERS, DetectorConfig

CONFIG = REPO_ROOT / "config"
PROFILES = CONFIG / "power_modes"
LAUNCH = REPO_ROOT / "launch"
NOT_A_JETSON = Nvpmodel(executable="no-such-nvpmodel", conf_path=Path("/nonexistent/nvpmodel.conf"))


def raw_profile(name: str) -> dict[str, Any]:
    data = yaml.safe_load((PROFILES / f"{name}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def plan(**arguments: str) -> Any:
    return plan_detector(arguments, CONFIG, nvpmodel=NOT_A_JETSON)


# --- the shipped profiles ----------------------------------------------------------------------


@pytest.mark.parametrize("path", profile_paths(PROFILES), ids=lambda path: path.stem)
def test_every_shipped_profile_is_valid(path: Path) -> None:
    profile, raw = load_profile(path), raw_profile(path.stem)
    parameters = profile.detector_parameters()
    assert (
        parameters["image_size"] == raw["image_size"]
        and parameters["precision"] == raw["precision"]
    )
    assert parameters["device"] == ("cuda" if raw["accelerator"] == "gpu" else raw["accelerator"])
    assert (
        isinstance(parameters["max_rate_hz"], float)
        and parameters["max_rate_hz"] == raw["max_rate_hz"]
    )
    assert parameters["expected_power_modes"] == raw["power_modes"]
    defaults = {spec.name: spec.default for spec in PARAMETERS}
    DetectorConfig.from_values(defaults | parameters)


def test_one_launch_file_per_profile_and_back() -> None:
    profiles = {path.stem for path in profile_paths(PROFILES)}
    launched = {}
    for launch_file in LAUNCH.glob("detect_*.launch.py"):
        (named,) = re.findall(r'include_detect_with_profile\("(\w+)"\)', launch_file.read_text())
        launched[launch_file.name] = named
    assert {f"detect_{name}.launch.py": name for name in profiles} == launched
    assert {"maxn", "50w", "30w", "25w", "15w", "10w", "7w"} <= profiles


def test_every_orin_power_mode_has_a_profile() -> None:
    covered = {mode for path in profile_paths(PROFILES) for mode in load_profile(path).power_modes}
    for board in ("orin_nano_8gb_super", "orin_nx_16gb_super", "agx_orin_64gb"):
        assert set(BOARDS[board][0].values()) <= covered, board


def test_profiles_are_found_by_file_name_or_by_power_mode() -> None:
    assert find_profile("15w", PROFILES).name == "15w"
    assert find_profile("15W", PROFILES).name == "15w"
    assert find_profile("MAXN_SUPER", PROFILES).name == "maxn"
    assert profile_for_mode("maxn_super", PROFILES).name == "maxn"
    with pytest.raises(
        InvalidProfileError, match=r"no power-mode profile '12x'.*profiles: 10w, 15w"
    ):
        find_profile("12x", PROFILES)
    with pytest.raises(InvalidProfileError, match="made for the running mode 120W"):
        profile_for_mode("120W", PROFILES)


# --- broken profiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_rate": 10.0}, r"unknown field 'max_rate' \(did you mean max_rate_hz\?\)"),
        ({"precision": None}, "missing field.*precision"),
        ({"precision": "int4"}, "precision must be one of fp32, fp16, int8"),
        ({"image_size": 500}, "image_size: 500 is not a multiple of 32"),
        ({"image_size": "640"}, "image_size must be a positive whole number"),
        ({"accelerator": "npu"}, "accelerator must be gpu or dla:<core>"),
        ({"accelerator": "dla:0"}, "dla:0 needs DLA core 0, which Orin Nano"),
        (
            {"accelerator": "dla:0", "boards": ["AGX Orin"], "precision": "fp32"},
            "fp16 or int8 only",
        ),
        ({"max_rate_hz": 0}, "max_rate_hz must be a number of frames per second > 0"),
        ({"power_modes": "15W"}, "power_modes must be a non-empty list"),
        ({"power_modes": ["15 W"]}, "not nvpmodel names"),
        ({"boards": ["Orin Nanoo"]}, "unknown board.*did you mean Orin Nano"),
        ({"model_size": "xl"}, "model_size must be one of n, s, m, l, x"),
        ({"description": ""}, "description"),
        ({"parameters": {"device": "cpu"}}, "set device with the profile's own field accelerator"),
        ({"parameters": {"confidence": 0.3}}, "did you mean confidence_threshold"),
        ({"parameters": {"confidence_threshold": 2.0}}, "confidence_threshold: 2.0 is outside"),
    ],
)
def test_a_broken_profile_names_the_file_and_the_problem(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    data = raw_profile("15w") | change
    data = {key: value for key, value in data.items() if value is not None}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidProfileError, match=message) as error:
        load_profile(path)
    assert str(error.value).startswith(f"power-mode profile {path}: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [("power_modes: [15W\n", "not valid YAML"), ("- 15W\n", "expected a mapping of fields")],
)
def test_a_profile_that_is_not_a_mapping_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvalidProfileError, match=message):
        load_profile(path)
    with pytest.raises(InvalidProfileError, match="cannot read it"):
        load_profile(tmp_path / "missing.yaml")


# --- params files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "node", "applies"),
    [
        ("/**", "/robot/front/yolo", True),
        ("/**", "/yolo", True),
        ("yolo", "/yolo", True),
        ("yolo", "/robot/yolo", False),
        ("/robot/*", "/robot/yolo", True),
        ("/robot/*", "/robot/front/yolo", False),
        ("/**/yolo", "/robot/front/yolo", True),
        ("/**/yolo", "/robot/front/other", False),
        ("/robot/yolo", "/robot/yolo", True),
    ],
)
def test_node_name_matching_follows_rcl(section: str, node: str, applies: bool) -> None:
    assert node_name_matches(section, node) is applies


def test_params_file_sections_apply_in_order(tmp_path: Path) -> None:
    path = tmp_path / "robot.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "/**": {"ros__parameters": {"image_size": 320, "max_rate_hz": 5.0}},
                "robot": {"yolo": {"ros__parameters": {"image_size": 416}}},  # nested: /robot/yolo
                "/other": {"ros__parameters": {"image_size": 64}},
                "/robot/yolo": {
                    "ros__parameters": {"qos_overrides": {"/image": {"subscription": {"depth": 2}}}}
                },
            },
            sort_keys=False,
        )
    )
    assert read_node_parameters(path, "/robot/yolo") == {
        "image_size": 416,
        "max_rate_hz": 5.0,
        "qos_overrides./image.subscription.depth": 2,
    }
    assert read_node_parameters(path, "/yolo") == {"image_size": 320, "max_rate_hz": 5.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image_size: 320\n", "no section has ros__parameters"),
        ("- a\n", "expected '<node name>"),
        ("/**: {ros__parameters: [1]}\n", "ros__parameters must be a mapping"),
        ("/**: {ros__parameters: {a: [}\n", "not valid YAML"),
    ],
)
def test_broken_params_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InvalidSettingError, match=message):
        read_node_parameters(path, "/yolo")


@pytest.mark.parametrize(
    "path",
    [CONFIG / "detector.yaml", *sorted((CONFIG / "examples").glob("*.yaml"))],
    ids=lambda path: path.name,
)
def test_shipped_params_files_hold_valid_detector_parameters(path: Path) -> None:
    values = read_node_parameters(path, "/yolo_detector")
    assert values and set(values) <= {spec.name for spec in PARAMETERS}
    defaults = {spec.name: spec.default for spec in PARAMETERS}
    DetectorConfig.from_values(defaults | values)
    result = plan(params_file=str(path))  # the launch accepts each one, with no warning
    assert not result.warnings


def test_written_parameter_files_keep_the_values_types(tmp_path: Path) -> None:
    values = {"camera_names": ["on", "off"], "max_rate_hz": 10.0, "model": "", "image_size": 480}
    path = write_parameters_file(values, tmp_path)
    assert read_node_parameters(path, "/any/node") == values


# --- detect.launch.py ------------------------------------------------------------------------


def test_the_issue_s_arguments_are_all_declared() -> None:
    names = {arg.name for arg in DETECT_ARGUMENTS}
    wanted = "model backend precision device image_topics namespace name params_file power_mode"
    assert set(wanted.split()) | {"autostart", "use_sim_time", "log_level"} <= names
    assert set(DETECTOR_PASSTHROUGH) <= {spec.name for spec in PARAMETERS}
    assert all(len(arg.description) > 15 for arg in (*DETECT_ARGUMENTS, *EXPORT_ARGUMENTS))


def test_without_arguments_the_node_just_starts() -> None:
    result = plan()
    assert (result.name, result.namespace, result.profile) == ("yolo_detector", "", None)
    assert result.parameters == ({"autostart": True},)
    assert result.ros_arguments == ("--log-level", "info")
    assert DetectorConfig.from_values(dict(result.effective)) == DetectorConfig(autostart=True)


def test_a_profile_with_overrides(tmp_path: Path) -> None:
    raw = raw_profile("10w")
    result = plan(power_mode="10W", device="cpu", models_dir=str(tmp_path), log_level="DEBUG")
    assert result.profile is not None and result.profile.name == "10w"
    profile_layer, given = result.parameters
    assert isinstance(profile_layer, dict) and isinstance(given, dict)
    assert profile_layer["image_size"] == raw["image_size"] and profile_layer["device"] == "cuda"
    assert profile_layer["model"] == ""  # no yolo11n.onnx in models_dir: the bundled YOLO11n
    assert given == {"device": "cpu", "autostart": True}
    assert (
        result.effective["device"] == "cpu" and result.effective["image_size"] == raw["image_size"]
    )
    assert result.ros_arguments == ("--log-level", "debug")
    assert any("overriding the profile's device" in note for note in result.notes)
    assert any("bundled YOLO11n" in note for note in result.notes)


def test_layers_profile_then_params_file_then_arguments(tmp_path: Path) -> None:
    params = tmp_path / "robot.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    image_size: 320\n    max_rate_hz: 5.0\n    autostart: false\n"
    )
    result = plan(power_mode="15w", params_file=str(params), image_size="640", max_rate_hz="")
    assert [type(layer) for layer in result.parameters] == [dict, str, dict]
    assert result.parameters[1] == str(params.resolve())
    assert result.effective["image_size"] == 640  # argument over file
    assert result.effective["max_rate_hz"] == 5.0  # file over profile
    assert result.effective["precision"] == raw_profile("15w")["precision"]  # profile over default
    assert result.effective["autostart"] is False  # the file's, not the launch default
    assert "`ros2 lifecycle set /yolo_detector configure`" in " ".join(result.notes)


def test_the_shipped_params_file_leaves_autostart_to_the_launch() -> None:
    result = plan(params_file=str(CONFIG / "detector.yaml"))
    assert result.effective["autostart"] is True
    assert "autostart is false" not in " ".join(result.notes)


def test_a_profile_s_model_size_comes_from_models_dir(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidSettingError, match=r"runs yolo11s.onnx, which is not in .*models_dir"
    ):
        plan(power_mode="25w", models_dir=str(tmp_path))
    (tmp_path / "yolo11s.onnx").write_bytes(b"")
    result = plan(power_mode="25w", models_dir=str(tmp_path))
    assert result.effective["model"] == str(tmp_path / "yolo11s.onnx")
    given_model = plan(power_mode="25w", models_dir="/nonexistent", model="/models/mine.onnx")
    assert given_model.effective["model"] == "/models/mine.onnx"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"log_level": "verbose"}, "log_level: 'verbose' is not one of debug"),
        ({"name": "1detector"}, "name: '1detector' is not a node name"),
        ({"namespace": "front camera"}, "namespace: 'front camera' is not a namespace"),
        ({"autostart": "maybe"}, "autostart: 'maybe' is not true or false"),
        ({"image_size": "big"}, "image_size: 'big' is not a valid int"),
        ({"image_size": "500"}, r"not a multiple of 32 .*\(set by the launch arguments\)"),
        ({"precision": "fp8"}, r"'fp8' is not one of .* \(set by the launch arguments\)"),
        ({"image_topics": "[]"}, "image_topics: give at least one"),
        ({"params_file": "/nonexistent/robot.yaml"}, "does not exist"),
        ({"power_mode": "12x"}, "no power-mode profile '12x'"),
    ],
)
def test_bad_arguments_stop_the_launch_with_a_clear_message(
    arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidSettingError, match=message):
        plan(**arguments)


def test_bad_params_file_values_name_the_file(tmp_path: Path) -> None:
    params = tmp_path / "robot.yaml"
    params.write_text("/**:\n  ros__parameters:\n    iou_threshold: 3.0\n")
    with pytest.raises(InvalidSettingError, match=rf"outside.*\(set by params_file {params}\)"):
        plan(params_file=str(params))
    params.write_text("/**:\n  ros__parameters:\n    max_rate_hz: 10\n")
    with pytest.raises(InvalidSettingError, match=r"max_rate_hz: 10 is an integer.*write 10\.0"):
        plan(params_file=str(params))
    params.write_text("/**:\n  ros__parameters:\n    confidence: 0.5\n    use_sim_time: true\n")
    (warning,) = plan(params_file=str(params)).warnings
    assert "no parameter 'confidence' (did you mean confidence_threshold?)" in warning


def test_image_topics_as_a_list_or_comma_separated() -> None:
    expected = ["/front/image_raw", "/rear/image_raw"]
    for text in ("[/front/image_raw, /rear/image_raw]", "/front/image_raw, /rear/image_raw"):
        assert plan(image_topics=text).effective["image_topics"] == expected


def test_the_pushed_namespace_decides_which_params_file_sections_apply(tmp_path: Path) -> None:
    params = tmp_path / "robot.yaml"
    params.write_text("/robot/yolo_detector:\n  ros__parameters:\n    image_size: 320\n")
    inside = plan_detector(
        {"params_file": str(params)}, CONFIG, pushed_namespace="/robot", nvpmodel=NOT_A_JETSON
    )
    assert inside.effective["image_size"] == 320
    assert plan(params_file=str(params)).effective["image_size"] == 0
    nested = plan_detector(
        {"params_file": str(params), "namespace": "yolo_detector", "name": "x"},
        CONFIG,
        pushed_namespace="robot",
        nvpmodel=NOT_A_JETSON,
    )
    assert nested.effective["image_size"] == 0  # /robot/yolo_detector/x is another node


def test_power_mode_auto_takes_the_running_mode_s_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto = {"power_mode": "auto", "models_dir": str(tmp_path)}
    (tmp_path / "yolo11s.onnx").write_bytes(b"")
    nano = FakeNvpmodel(tmp_path / "nano", BOARDS["orin_nano_8gb_super"][0], current=1)  # 25W
    monkeypatch.setenv("PATH", nano.path_env)
    result = plan_detector(auto, CONFIG, nvpmodel=Nvpmodel(conf_path=tmp_path / "absent.conf"))
    assert result.profile is not None and result.profile.name == "25w"

    thor = FakeNvpmodel(tmp_path / "thor", BOARDS["agx_thor"][0], current=1)  # 120W
    monkeypatch.setenv("PATH", thor.path_env)
    with pytest.raises(InvalidProfileError, match="running mode 120W"):
        plan_detector(auto, CONFIG, nvpmodel=Nvpmodel(conf_path=tmp_path / "absent.conf"))

    desktop = plan_detector(auto, CONFIG, nvpmodel=NOT_A_JETSON)
    assert desktop.profile is None and "not a Jetson" in desktop.notes[0]


# --- export.launch.py ------------------------------------------------------------------------


def test_export_passes_given_arguments_over_the_params_file(tmp_path: Path) -> None:
    assert plan_export({}).parameters == ()
    params = tmp_path / "export.yaml"
    params.write_text("/**:\n  ros__parameters:\n    precision: fp32\n")
    result = plan_export(
        {"params_file": str(params), "model": "yolo11s.onnx", "image_size": "384,640"}
    )
    assert result.parameters == (
        str(params.resolve()),
        {"model": "yolo11s.onnx", "image_size": [384, 640]},
    )
    assert plan_export({"image_size": "640"}).parameters == ({"image_size": [640, 640]},)
    assert (result.name, result.ros_arguments) == ("yolo_export", ("--log-level", "info"))
    with pytest.raises(InvalidSettingError, match="image_size: '500'"):
        plan_export({"image_size": "500"})


# --- unknown launch arguments --------------------------------------------------------------------

DETECT_NAMES = [argument.name for argument in DETECT_ARGUMENTS]


@pytest.mark.parametrize(
    ("argv", "launch_file"),
    [
        (
            ["/opt/ros/jazzy/bin/ros2", "launch", "yolo_trt_ros", "detect.launch.py", "a:=b"],
            "detect.launch.py",
        ),
        (
            ["ros2", "launch", "-d", "--launch-prefix", "gdb -ex run", "/x/my.launch.py"],
            "my.launch.py",
        ),
        (["ros2", "launch", "yolo_trt_ros", "x.launch.xml"], "x.launch.xml"),
        (["ros2", "launch", "pkg", "a:=other.launch.py"], None),  # an argument, not the file
        (["/usr/bin/pytest", "test/test_launch_detect.py"], None),
        (["ros2", "run", "yolo_trt_ros", "detector"], None),
    ],
)
def test_the_launch_file_a_ros2_launch_command_line_runs(
    argv: list[str], launch_file: str | None
) -> None:
    assert arguments_module.ros2_launch_file(argv) == launch_file


def test_a_misspelled_argument_is_refused_naming_the_valid_ones() -> None:
    error = arguments_module.unknown_argument_error(
        "detect.launch.py", DETECT_NAMES, ["model", "image_topic", "bogus"]
    )
    assert error is not None
    assert "has no argument bogus, image_topic (did you mean image_topics?)" in error
    assert all(name in error for name in DETECT_NAMES)
    assert "detect.launch.py --show-args" in error
    assert (
        arguments_module.unknown_argument_error("detect.launch.py", DETECT_NAMES, DETECT_NAMES)
        is None
    )


def test_an_included_launch_file_warns_only_about_names_close_to_its_own() -> None:
    # the command line's arguments of an including file: its own (robot, camera) are no concern
    given = ["robot", "camera", "image_topic", "use_sim_time"]
    warnings = arguments_module.misspelled_argument_warnings(
        "detect.launch.py", DETECT_NAMES, given
    )
    assert len(warnings) == 1 and "image_topic is not one of detect.launch.py's" in warnings[0]
    assert "did you mean image_topics?" in warnings[0]


def test_every_launch_file_checks_its_own_arguments() -> None:
    """The glue is run by the launch_testing tests only: check here that every file is wired."""
    for path in LAUNCH.glob("*.launch.py"):
        text = path.read_text()
        if path.name.startswith("detect_"):  # include_detect_with_profile checks detect_<mode>
            assert "include_detect_with_profile(" in text, path.name
            continue
        (checked,) = re.findall(r'check_arguments\("([\w.]+)"', text)
        assert checked == path.name
        declared = set(re.findall(r'DeclareLaunchArgument\(\s*"(\w+)"', text))
        if declared:  # declared one by one: the checked list must be the same names
            (listed,) = re.findall(r"check_arguments\([^,]+, \[([^\]]*)\]\)", text)
            assert set(re.findall(r'"(\w+)"', listed)) == declared, path.name
