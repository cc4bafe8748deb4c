"""The export node: turn a model into this device's engine, once, with progress and a clear summary.

One-shot (default): build or find the engine for the parameters, print a summary, exit (0 on
success, 1 on failure)::

    ros2 run yolo_trt_ros export --ros-args -p model:=yolo11s.onnx -p precision:=int8 -p calibration_dir:=frames/

Server (``-p server:=true``): stay up and serve the ``ExportEngine`` action on ``~/export_engine``
with stage/percent feedback, so a fleet tool can rebuild engines after a JetPack upgrade. Where
TensorRT is absent, the precision-prepared ONNX for ONNX Runtime is the result, and it says so.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.executors import Executor, MultiThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Header

from yolo_trt_ros.action import ExportEngine
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest, PreparedModel
from yolo_trt_ros.errors import InvalidSettingError, YoloTrtRosError
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros import messages
from yolo_trt_ros.ros.node_runner import run_node
from yolo_trt_ros.ros.parameters import descriptor_for
from yolo_trt_ros.ros.service_guard import guard_services
from yolo_trt_ros.settings import EXPORT_PARAMETERS

__all__ = ["ExportNode", "main"]


def _image_size(value: Any) -> tuple[int, int] | None:
    """Turn the image_size parameter (an int, or a [height, width] list) into (height, width)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value) if value else None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise InvalidSettingError.of("image_size", f"{value!r} is not 640 or [height, width]")


def _request_from(values: dict[str, Any]) -> ExportRequest:
    return ExportRequest(
        model=Path(values["model"]) if values["model"] else bundled_model_path(),
        precision=str(values["precision"]),
        device=str(values["device"]),
        image_size=_image_size(values["image_size"]),
        batch=max(int(values["batch"]), 1),
        dynamic=bool(values["dynamic"]),
        calibration_dir=Path(values["calibration_dir"]) if values["calibration_dir"] else None,
        workspace_mib=int(values["workspace_mib"]),
        optimization_level=int(values["optimization_level"]),
        force=bool(values["force"]),
        output_dir=Path(values["output_dir"]) if values["output_dir"] else None,
        backend=str(values["backend"]),
    )


def _request_from_goal(goal: Any, defaults: ExportRequest) -> ExportRequest:
    size = list(goal.image_size)
    return ExportRequest(
        model=Path(goal.model) if goal.model else defaults.model,
        precision=goal.precision or defaults.precision,
        device=goal.device or defaults.device,
        image_size=(int(size[0]), int(size[1])) if len(size) == 2 else defaults.image_size,
        batch=max(int(goal.batch), 1),
        dynamic=bool(goal.dynamic),
        calibration_dir=Path(goal.calibration_dir) if goal.calibration_dir else None,
        workspace_mib=int(goal.workspace_mib),
        optimization_level=int(goal.optimization_level),
        force=bool(goal.force),
        output_dir=Path(goal.output_dir) if goal.output_dir else None,
        backend=defaults.backend,
    )


class ExportNode(Node):
    """Prepares engines on request (see the module docstring)."""

    def __init__(self, node_name: str = "yolo_export", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        guard_services(self, self.get_logger().warn)  # no request may end the process
        for spec in EXPORT_PARAMETERS:
            self.declare_parameter(spec.name, spec.default, descriptor_for(spec))
        self._lock = threading.Lock()  # one export at a time: builds need the whole GPU
        self._action: ActionServer | None = None

    def values(self) -> dict[str, Any]:
        """Return the current parameter values."""
        return {spec.name: self.get_parameter(spec.name).value for spec in EXPORT_PARAMETERS}

    def manager(self, progress: Any) -> EngineManager:
        """Make an engine manager on the configured cache."""
        values = self.values()
        directory = Path(values["engine_cache_dir"]) if values["engine_cache_dir"] else None
        policy = values["cache_policy"] or values["engine_cache_policy"]  # the former name wins
        return EngineManager(EngineCache(directory, str(policy)), progress=progress)

    def log_progress(self, stage: str, percent: float, message: str) -> None:
        """Log one progress line."""
        self.get_logger().info(f"[{stage} {percent:5.1f}%] {message}")

    def export(self, request: ExportRequest, progress: Any) -> PreparedModel:
        """Run one export (serialised with any other)."""
        with self._lock:
            return self.manager(progress).prepare(request)

    def engine_info(self, prepared: PreparedModel, request: ExportRequest) -> EngineInfo:
        """Describe the result as EngineInfo."""
        height, width = request.image_size or (640, 640)
        return messages.engine_info(
            header=Header(stamp=self.get_clock().now().to_msg()),
            model=str(request.model),
            backend=prepared.backend,
            backend_version="",
            precision=prepared.precision,
            device=request.device,
            input_shape=[request.batch, 3, height, width],
            class_names=[],
            engine_path=prepared.engine_path or str(prepared.path),
            cache_key=prepared.cache_key,
            build_seconds=prepared.build_seconds,
            from_cache=prepared.from_cache,
        )

    def serve(self) -> None:
        """Start serving the ExportEngine action on ~/export_engine."""
        self._action = ActionServer(self, ExportEngine, "~/export_engine", self._execute)
        self.get_logger().info(
            f"serving ExportEngine on {self.resolve_topic_name('~/export_engine')}"
        )

    def _execute(self, goal_handle: ServerGoalHandle) -> Any:
        request = _request_from_goal(goal_handle.request, _request_from(self.values()))

        def progress(stage: str, percent: float, message: str) -> None:
            self.log_progress(stage, percent, message)
            goal_handle.publish_feedback(
                ExportEngine.Feedback(stage=stage, percent=float(percent), message=message)
            )

        result = ExportEngine.Result()
        try:
            prepared = self.export(request, progress)
        except YoloTrtRosError as error:
            self.get_logger().error(f"export failed: {error}")
            goal_handle.abort()
            result.success, result.message = False, str(error)
            return result
        goal_handle.succeed()
        result.success, result.message = True, prepared.note or "ok"
        result.engine_path = prepared.engine_path or str(prepared.path)
        result.cache_key, result.build_seconds, result.from_cache = (
            prepared.cache_key,
            prepared.build_seconds,
            prepared.from_cache,
        )
        result.engine = self.engine_info(prepared, request)
        return result


def _summary(prepared: PreparedModel) -> str:
    lines = [
        f"backend: {prepared.backend}",
        f"precision: {prepared.precision}",
        f"load this: {prepared.path}",
    ]
    if prepared.cache_key:
        lines.append(
            f"cache key: {prepared.cache_key} ({'from the cache' if prepared.from_cache else f'built in {prepared.build_seconds:.1f} s'})"
        )
    if prepared.onnx_path is not None:
        lines.append(f"prepared ONNX: {prepared.onnx_path}")
    if prepared.note:
        lines.append(f"note: {prepared.note}")
    return "\n".join(lines)


def main(args: list[str] | None = None) -> int:
    """Export once and exit, or serve the action until Ctrl-C."""
    return run_node(
        ExportNode, args, spin=_serve_or_export, executor=MultiThreadedExecutor, own_signals=False
    )


def _serve_or_export(node: ExportNode, executor: Executor) -> int:
    if node.get_parameter("server").value:
        node.serve()
        executor.spin()
        return 0
    try:
        prepared = node.export(_request_from(node.values()), node.log_progress)
    except YoloTrtRosError as error:
        node.get_logger().error(f"export failed: {error}")
        return 1
    print(_summary(prepared), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
