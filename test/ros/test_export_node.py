"""The export node over real ROS 2, one-shot and as an action server; and the detector using the
same engine manager. TensorRT is absent here, so the precision-prepared ONNX on ONNX Runtime
stands in for an engine (the result says so)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import RosHarness
from node_harness import Collector, DetectorProcess, LifecycleClient, spin_for
from rclpy.action import ActionClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from yolo_trt_ros.action import ExportEngine
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks


def _export(*parameters: str) -> subprocess.CompletedProcess[str]:
    command = [str(executables_where_ros2_run_looks()["export"]), "--ros-args"]
    for parameter in parameters:
        command += ["-p", parameter]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_one_shot_export_prepares_fp16_and_reuses_it(tmp_path: Path) -> None:
    cache = tmp_path / "engines"
    first = _export("precision:=fp16", f"engine_cache_dir:={cache}")
    assert first.returncode == 0, first.stderr
    assert "backend: onnxruntime" in first.stdout and "precision: fp16" in first.stdout
    assert "TensorRT is not available here" in first.stdout
    assert "[precision  10.0%] converting yolo11n.onnx to FP16" in first.stderr
    (prepared,) = (cache / "prepared").glob("*-fp16.onnx")
    assert f"load this: {prepared}" in first.stdout
    mtime = prepared.stat().st_mtime_ns
    again = _export("precision:=fp16", f"engine_cache_dir:={cache}")
    assert again.returncode == 0 and prepared.stat().st_mtime_ns == mtime, (
        "the prepared model is reused"
    )
    assert oct(cache.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (("model:=/no/such/model.onnx",), "does not exist"),
        (("precision:=int8",), "calibration"),
        (("backend:=tensorrt",), "TensorRT is not installed"),
    ],
)
def test_one_shot_export_failures_exit_nonzero_with_the_reason(
    tmp_path: Path, parameters: tuple[str, ...], message: str
) -> None:
    result = _export(*parameters, f"engine_cache_dir:={tmp_path / 'engines'}")
    assert result.returncode == 1
    assert "export failed" in result.stderr and message in result.stderr


def test_one_shot_export_refuses_bad_values_and_unusable_files_in_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "a_file"
    not_a_folder.write_text("x")
    calibration = tmp_path / "calibration"  # named like images: a folder and a FIFO (never read)
    (calibration / "d.jpg").mkdir(parents=True)
    os.mkfifo(calibration / "f.jpg")
    cases = [
        ((f"output_dir:={not_a_folder}", "precision:=fp32"), "File exists"),
        (("batch:=-3",), "parameter batch"),
        (("image_size:=-5",), "parameter image_size"),
        (("image_size:=[0, 0]",), "parameter image_size"),
        (("backend:=bogus",), "parameter backend"),
        (("precision:=int8", f"calibration_dir:={calibration}"), "holds no images"),
    ]
    for parameters, message in cases:
        result = _export(*parameters, f"engine_cache_dir:={tmp_path / 'engines'}")
        assert result.returncode == 1, (parameters, result.stdout, result.stderr[-2000:])
        assert "export failed" in result.stderr and message in result.stderr, parameters
        assert "Traceback" not in result.stderr, (parameters, result.stderr[-2000:])


def test_export_action_server(ros: RosHarness, tmp_path: Path) -> None:
    command = [
        str(executables_where_ros2_run_looks()["export"]),
        "--ros-args",
        "-r",
        "__node:=export_server",
        "-p",
        "server:=true",
        "-p",
        f"engine_cache_dir:={tmp_path / 'engines'}",
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = ActionClient(ros.node, ExportEngine, "/export_server/export_engine")
        ros.spin_until(client.server_is_ready, 30, "the ExportEngine action server")
        # ready means the server reads our requests; its replies to us may still be matching up
        # (a goal acceptance was lost once in a CI run): give discovery a moment
        spin_for(ros, 1.0)
        feedback: list[ExportEngine.Feedback] = []

        def run(goal: ExportEngine.Goal) -> ExportEngine.Result:
            sent = client.send_goal_async(
                goal, feedback_callback=lambda message: feedback.append(message.feedback)
            )
            ros.spin_until(sent.done, 30, "goal acceptance")
            result = sent.result().get_result_async()
            ros.spin_until(result.done, 120, "the export result")
            return result.result().result

        done = run(
            ExportEngine.Goal(
                precision="fp16", image_size=[640, 640], batch=1, optimization_level=-1
            )
        )
        assert done.success, done.message
        assert done.engine.backend == "onnxruntime" and done.engine.precision == "fp16"
        assert done.engine_path.endswith("-fp16.onnx") and Path(done.engine_path).is_file()
        assert any(f.stage == "precision" and "FP16" in f.message for f in feedback)
        failed = run(ExportEngine.Goal(model=str(tmp_path / "missing.onnx")))
        assert not failed.success and "does not exist" in failed.message
        not_a_folder = tmp_path / "a_file"
        not_a_folder.write_text("x")
        # an error of the system, not of the package: still refused with its reason
        failed = run(ExportEngine.Goal(precision="fp32", output_dir=str(not_a_folder)))
        assert not failed.success and "File exists" in failed.message, failed.message
        failed = run(ExportEngine.Goal(image_size=[320, 320, 3]))
        assert not failed.success and "image_size" in failed.message, failed.message
        parameters = LifecycleClient(ros, "export_server")  # its parameter services
        for name, bad in (("image_size", "abc"), ("backend", "tensorrtt"), ("batch", 0)):
            successful, reason = parameters.set_parameter(name, bad)
            assert not successful and name in reason, (name, reason)
        again = run(ExportEngine.Goal(precision="fp16", image_size=[640, 640]))
        # the refused values left no mark: the same prepared model as the first goal's
        assert again.success and again.engine_path == done.engine_path, again.message
        assert server.poll() is None, "the server keeps serving after a failed goal"
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)  # also drains the pipe the server logs into
        print(output[-3000:])  # shown with a failure
    assert server.returncode == 0, output[-2000:]


def test_detector_configures_through_the_engine_manager(ros: RosHarness, tmp_path: Path) -> None:
    latched = QoSProfile(
        depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
    )
    process = DetectorProcess(
        "detector_fp16",
        tmp_path,
        precision="fp16",
        engine_cache_dir=str(tmp_path / "engines"),
        autostart=True,
    )
    try:
        engine = Collector(ros, EngineInfo, "/detector_fp16/engine_info", latched)
        ros.spin_until(
            lambda: bool(engine.messages),
            90,
            "EngineInfo from a detector configured with precision fp16",
        )
        info = engine.messages[0]
        assert (
            info.precision == "fp16"
            and info.model.endswith("-fp16.onnx")
            and info.backend == "onnxruntime"
        )
        assert "TensorRT is not available here" in process.log
        assert LifecycleClient(ros, "detector_fp16").state() == "active"
    finally:
        assert process.stop() == 0
