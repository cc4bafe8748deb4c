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

from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.executors import Executor, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from yolo_trt_ros.action import ExportEngine
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest, PreparedModel
from yolo_trt_ros.errors import InvalidSettingError, YoloTrtRosError
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros import messages
from yolo_trt_ros.ros.node_runner import run_node
from yolo_trt_ros.ros.parameters import declare_all, deletion_refused, refuse_startup_errors
from yolo_trt_ros.ros.service_guard import guard_services
from yolo_trt_ros.settings import EXPORT_PARAMETERS, EXPORT_SPECS
from yolo_trt_ros.settings.values import ImageSize

__all__ = ["ExportNode", "main"]


def _image_size(value: Any) -> tuple[int, int] | None:
    """Turn image_size (640, [height, width], or 0 / [] for the default) into (height, width)."""
    if isinstance(value, list | tuple) and not value:
        return None
    try:
        size = ImageSize.parse(value)
    except (ValueError, TypeError):  # InvalidSettingError (a bad side) is a ValueError too
        raise InvalidSettingError.of(
            "image_size", f"{value!r} is not 640 or [height, width], positive multiples of 32"
        ) from None
    return None if size is None else size.pair


def _check_values(values: dict[str, Any]) -> None:
    """Raise InvalidSettingError naming the first export parameter whose value is not valid."""
    for name, value in values.items():
        if name in EXPORT_SPECS:
            EXPORT_SPECS[name].check(value)
    _image_size(values["image_size"])


def _request_from(values: dict[str, Any]) -> ExportRequest:
    _check_values(values)
    return ExportRequest(
        model=Path(values["model"]) if values["model"] else bundled_model_path(),
        precision=str(values["precision"]),
        device=str(values["device"]),
        image_size=_image_size(values["image_size"]),
        batch=int(values["batch"]),
        dynamic=bool(values["dynamic"]),
        calibration_dir=Path(values["calibration_dir"]) if values["calibration_dir"] else None,
        workspace_mib=int(values["workspace_mib"]),
        optimization_level=int(values["optimization_level"]),
        force=bool(values["force"]),
        output_dir=Path(values["output_dir"]) if values["output_dir"] else None,
        backend=str(values["backend"]),
    )


def _request_from_goal(goal: Any, defaults: ExportRequest) -> ExportRequest:
    size = _image_size([int(side) for side in goal.image_size])  # []: the default
    for name in ("workspace_mib", "optimization_level"):
        EXPORT_SPECS[name].check(int(getattr(goal, name)))
    if goal.batch < 0:
        raise InvalidSettingError.of("batch", f"{goal.batch} is negative (0 means 1)")
    return ExportRequest(
        model=Path(goal.model) if goal.model else defaults.model,
        precision=goal.precision or defaults.precision,
        device=goal.device or defaults.device,
        image_size=size or defaults.image_size,
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
        # a bad start-up value keeps its default and is reported: export refuses until it is fixed
        self.startup_errors = declare_all(self, EXPORT_PARAMETERS, fails="export")
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._lock = threading.Lock()  # one export at a time: builds need the whole GPU
        self._action: ActionServer | None = None

    def _on_set_parameters(self, requested: list[Parameter]) -> SetParametersResult:
        """Refuse a value the export would refuse, naming the parameter; forget fixed errors."""
        refused = deletion_refused(requested)
        if refused:
            return SetParametersResult(successful=False, reason=refused)
        values = self.values() | {p.name: p.value for p in requested if p.name in EXPORT_SPECS}
        try:
            _check_values(values)
        except InvalidSettingError as error:
            return SetParametersResult(successful=False, reason=str(error))
        for parameter in requested:
            self.startup_errors.pop(parameter.name, None)
        return SetParametersResult(successful=True)

    def request(self) -> ExportRequest:
        """Return the export the parameters ask for (InvalidSettingError while one is bad)."""
        refuse_startup_errors(self.startup_errors)
        return _request_from(self.values())

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
        def progress(stage: str, percent: float, message: str) -> None:
            self.log_progress(stage, percent, message)
            goal_handle.publish_feedback(
                ExportEngine.Feedback(stage=stage, percent=float(percent), message=message)
            )

        result = ExportEngine.Result()
        try:
            request = _request_from_goal(goal_handle.request, self.request())
            prepared = self.export(request, progress)
        except Exception as error:  # noqa: BLE001 - every goal gets its reason, the server stays
            reason = failure_reason(error)
            self.get_logger().error(f"export failed: {reason}")
            goal_handle.abort()
            result.success, result.message = False, reason
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


def failure_reason(error: Exception) -> str:
    """One line for an export that failed: the package's own message, or what the system said."""
    if isinstance(error, YoloTrtRosError):
        return str(error)
    if isinstance(error, OSError):  # a file or folder the export could not use
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return f"unexpected {type(error).__name__}: {error}"


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
        prepared = node.export(node.request(), node.log_progress)
    except (YoloTrtRosError, OSError) as error:
        node.get_logger().error(f"export failed: {failure_reason(error)}")
        return 1
    print(_summary(prepared), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
