"""The lifecycle detector node: camera images in, vision_msgs detections and diagnostics out.

A thin shell over its parts; docs/architecture.md says what each transition does and where a
frame and a parameter go.

    ros2 run yolo_trt_ros detector --ros-args -p image_topics:="['/camera/image_raw']" -p autostart:=true
    python -m yolo_trt_ros.ros.detector_node --ros-args --params-file config/detector.yaml
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.lifecycle import (
    LifecycleNode,
    LifecyclePublisher,
    LifecycleState,
    TransitionCallbackReturn,
)
from rclpy.parameter import Parameter
from rclpy.task import Future
from rclpy.timer import Timer
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.manager import PreparedModel
from yolo_trt_ros.errors import YoloTrtRosError
from yolo_trt_ros.ros import diagnostics, parameters
from yolo_trt_ros.ros.cameras import Camera, CameraWatch, Frame, arrive, create_cameras, summary
from yolo_trt_ros.ros.frame_handler import FrameHandler
from yolo_trt_ros.ros.inference_worker import InferenceWorker
from yolo_trt_ros.ros.model_facts import label_info
from yolo_trt_ros.ros.model_in_use import ModelInUse
from yolo_trt_ros.ros.model_topics import ModelTopics
from yolo_trt_ros.ros.node_runner import run_node, spin_until
from yolo_trt_ros.ros.service_guard import guard_services
from yolo_trt_ros.settings import PARAMETERS, DetectorConfig
from yolo_trt_ros.stream import NewestFrameMailbox

__all__ = ["DetectorNode", "main"]

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class DetectorNode(LifecycleNode):
    """YOLO detector as a ROS 2 lifecycle node (see the module docstring)."""

    def __init__(self, node_name: str = "yolo_detector", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        # parameter -> why its start-up value was refused (configure fails until it is set again)
        self._startup_errors = parameters.declare_all(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # no request may end the process; a value for the next configure says so in the answer
        guard_services(self, self.get_logger().warn, self._applies_later)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(
            float(self.get_parameter("diagnostics_period").value), self._publish_diagnostics
        )
        self._mailbox: NewestFrameMailbox[Frame] = NewestFrameMailbox()
        self._model = ModelInUse(self.get_logger())
        self._cameras: dict[str, Camera] = {}
        self._watch = CameraWatch(self, self._cameras)  # subscriptions and QoS, while active
        self._outputs: list[LifecyclePublisher] = []  # the cameras' publishers
        self._model_topics = ModelTopics(self)  # EngineInfo and LabelInfo, latched
        self._worker = InferenceWorker(  # the frame handler is replaced on configure
            self._mailbox,
            self._cameras.get,
            lambda c, f: self._frames.process(c, f),  # noqa: PLW0108
        )
        self._facts: dict[str, object] = {}
        self._last_error = ""
        self._frames = self._frame_handler(self._model.config)
        self._autostart_timer: Timer | None = None
        self._finish_timer: Timer | None = None
        self.finished = Future()  # done once the node is finalized: main() then returns
        if self.get_parameter("autostart").value:
            self._autostart_timer = self.create_timer(0.0, self._autostart)
        else:  # a lifecycle node waits unconfigured: say so, and what starts it
            self.get_logger().info(
                "unconfigured, autostart is false: waiting for a lifecycle manager or "
                f"`ros2 lifecycle set {self.get_fully_qualified_name()} configure` (then "
                "activate); set autostart:=true to start at once"
            )

    @property
    def _detector(self) -> Detector | None:
        return self._model.detector

    @property
    def _config(self) -> DetectorConfig:
        return self._model.config

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def lifecycle_state(self) -> str:
        """The current lifecycle state label (unconfigured, inactive, active, finalized)."""
        return str(self._state_machine.current_state[1])

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model, warm it up, create the outputs, publish EngineInfo and LabelInfo."""
        started = time.monotonic()
        try:
            self._configure()
        except YoloTrtRosError as error:
            return self._configure_failed(str(error))
        except Exception as error:  # noqa: BLE001 - any failure must leave the node alive
            return self._configure_failed(f"unexpected {type(error).__name__}: {error}")
        self._last_error = ""
        self.get_logger().info(
            f"configured in {time.monotonic() - started:.2f} s: "
            f"{summary(self._facts, self._cameras.values())}"
        )
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the cameras and start the inference thread."""
        self._watch.start(self._config, self._on_image)
        self._worker.start()
        result: TransitionCallbackReturn = super().on_activate(state)
        self.get_logger().info(
            f"active: watching {', '.join(c.topic for c in self._cameras.values())}"
        )
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the subscriptions and the inference thread; keep the model loaded."""
        self._stop_processing()
        result: TransitionCallbackReturn = super().on_deactivate(state)
        self.get_logger().info("inactive: stopped watching, model kept (activate resumes)")
        return result

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model and every output publisher."""
        self._release()
        self.get_logger().info("unconfigured: model and outputs released (configure reloads)")
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and release whatever is running, from any state; then the process ends."""
        self._stop_processing()
        self._release()
        self.get_logger().info("finalized: shut down, the process exits")
        # In the lifecycle services' callback group: runs once this transition has replied.
        self._finish_timer = self.create_timer(0.0, self._finish)
        return SUCCESS

    def _finish(self) -> None:
        """End main()'s spin: a finalized node can do nothing more."""
        if self._finish_timer is not None:
            self._finish_timer.cancel()
        if not self.finished.done():
            self.finished.set_result(True)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Recover to unconfigured after a failed transition."""
        self._stop_processing()
        self._release()
        return SUCCESS

    def _autostart(self) -> None:
        if self._autostart_timer is not None:
            self._autostart_timer.cancel()
            self.destroy_timer(self._autostart_timer)
            self._autostart_timer = None
        if self.trigger_configure() == SUCCESS:
            self.trigger_activate()

    # --- configure -------------------------------------------------------------------------------

    def _read_config(self) -> DetectorConfig:
        parameters.refuse_startup_errors(self._startup_errors)
        config = DetectorConfig.from_values(self._values())
        # start-up values too (set requests were checked already), before any model is loaded
        parameters.check_topic_names(config.image_topics, self.resolve_topic_name)
        return config

    def _values(self) -> dict[str, Any]:
        return {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}

    def _configure(self) -> None:
        config = self._read_config()
        prepared, detector = self._model.load(config)
        self._frames = self._frame_handler(config)
        self._cameras.update(
            create_cameras(config, self.resolve_topic_name, self._output, self.get_logger())
        )
        self._publish_model_facts(prepared, detector)
        self._model.optimise_in_background(prepared, self._publish_model_facts)

    def _frame_handler(self, config: DetectorConfig) -> FrameHandler:
        return FrameHandler(
            lambda: self._model.slot.detector,
            self._model.slot.lock,
            self._worker.stopping,
            max_pixels=config.max_image_pixels,
            class_id_style=config.class_id_style,
            decoder=self._model.decoder,
        )

    def _output(self, message_type: Any, topic: str, depth: int) -> LifecyclePublisher:
        publisher: LifecyclePublisher = self.create_lifecycle_publisher(message_type, topic, depth)
        self._outputs.append(publisher)
        return publisher

    def _publish_model_facts(self, prepared: PreparedModel, detector: Detector) -> None:
        """Publish EngineInfo and LabelInfo (latched) and the diagnostics facts; again after a swap."""
        header = Header(stamp=self.get_clock().now().to_msg())
        info = self._model.engine_info(prepared, detector, header)
        self._model_topics.publish(info, label_info(detector, header), list(self._cameras))
        self._facts = self._model.facts(prepared, detector)

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        self._last_error = reason
        self.get_logger().error(f"configure failed: {reason}")
        self._release()
        return FAILURE

    # --- data flow -------------------------------------------------------------------------------

    def _on_image(
        self, camera: Camera, msg: Image | CompressedImage | bytes, info: Mapping[str, Any] | None
    ) -> None:
        arrive(
            camera,
            msg,
            info,
            self._mailbox,
            max_pixels=self._config.max_image_pixels,
            now_ns=self._now_ns,
        )

    def _now_ns(self) -> int:
        return int(self.get_clock().now().nanoseconds)

    # --- teardown --------------------------------------------------------------------------------

    def _stop_processing(self) -> None:
        self._worker.stop()
        self._watch.stop()

    def _release(self) -> None:
        self._model.release()  # first: a background build may be about to publish EngineInfo
        for publisher in self._outputs:
            self.destroy_lifecycle_publisher(publisher)
        self._cameras.clear()
        self._outputs = []
        self._model_topics.destroy()
        self._facts = {}

    # --- parameters and diagnostics --------------------------------------------------------------

    def _on_set_parameters(self, requested: list[Parameter]) -> SetParametersResult:
        return parameters.answer_request(
            requested,
            self._values(),
            self._detector,
            self._startup_errors,
            self.get_logger(),
            on_threshold=lambda detector: self._model_topics.publish_labels(
                label_info(detector, Header(stamp=self.get_clock().now().to_msg()))
            ),
            on_diagnostics_period=self._set_diagnostics_period,
            resolve_topic=self.resolve_topic_name,
        )

    def _applies_later(self, requested: list[Parameter]) -> str:
        return parameters.applies_later(requested, configured=self._detector is not None)

    def _set_diagnostics_period(self, seconds: float) -> None:
        self.destroy_timer(self._diagnostics_timer)
        self._diagnostics_timer = self.create_timer(seconds, self._publish_diagnostics)
        self.get_logger().info(f"diagnostics every {seconds:g} s")

    def _publish_diagnostics(self) -> None:
        statuses = diagnostics.node_statuses(
            self.get_fully_qualified_name(),
            self.lifecycle_state,
            self._facts,
            self._last_error,
            self._model.power_check,
            list(self._cameras.values()),
        )
        self._diagnostics.publish(
            DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=statuses)
        )

    def shut_down(self) -> None:
        """Leave cleanly from any state (used on Ctrl-C and at the end of main)."""
        if self.lifecycle_state != "finalized":
            try:
                self.trigger_shutdown()
            except Exception:  # noqa: BLE001 - already shutting down; release directly
                self._stop_processing()
                self._release()


HANDOVER_SWITCH_INTERVAL_S = 0.0002  # how soon a waiting thread gets the GIL (Python: 0.005)


def main(args: list[str] | None = None) -> int:
    """Run the detector node until it is finalized, Ctrl-C or SIGTERM; shut it down cleanly."""
    # rclpy's own SIGINT handler would invalidate the context before the node could stop its
    # inference thread and transition to finalized: own_signals raises KeyboardInterrupt instead.
    # One thread: frames only enter the mailbox here, inference has its own thread. rclpy's
    # MultiThreadedExecutor took only 46 of 300 1080p frames at 30 Hz next to the GPU pipeline
    # on an H200 host, this executor all 300 (docs/tensorrt.md). The price: while configure
    # builds an engine, services and timers wait for it (the build logs its progress).
    # rclpy's executor runs Python for about half a millisecond after each callback. The mailbox
    # keeps the callback until the inference thread is done with the frame, at most 10 ms
    # (stream/mailbox.py); the short switch interval (Python's default is 5 ms) bounds each
    # stretch in which the executor holds the GIL against that thread after a slower frame.
    sys.setswitchinterval(HANDOVER_SWITCH_INTERVAL_S)
    return run_node(
        DetectorNode,
        args,
        spin=_spin_until_finished,
        stop=DetectorNode.shut_down,
        executor=SingleThreadedExecutor,
        own_signals=True,
    )


def _spin_until_finished(node: DetectorNode, executor: Executor) -> None:
    spin_until(executor, node.finished.done)  # until finalized, Ctrl-C or SIGTERM


if __name__ == "__main__":
    sys.exit(main())
