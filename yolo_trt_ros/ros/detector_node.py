"""The lifecycle detector node: camera images in, vision_msgs detections and diagnostics out.

configure  reads the Jetson power mode (and switches it if asked), loads the model (or engine),
           warms it up, creates the output publishers and publishes EngineInfo and LabelInfo
           (transient local); a failure logs one line, reports an ERROR diagnostic and leaves the
           node unconfigured and alive.
activate   subscribes to the cameras and starts the inference thread.
deactivate stops both; cleanup releases the model and publishers; shutdown works from any state.

Frames never queue behind the model: each camera has one slot holding its newest frame (older ones
are counted as dropped), and a dedicated thread runs the model, so the executor keeps answering
lifecycle and parameter services while inference runs. With max_rate_hz set, frames beyond the cap
are skipped as they arrive (yolo_trt_ros.stream.rate_cap). Before either, a frame's fields are
checked (yolo_trt_ros.ros.frame_check), so a bad frame never replaces a good one waiting. Every frame
is counted once (yolo_trt_ros.stream.stats), and frames that never reached the callback are counted
from the publishers' sequence numbers where rclpy gives them (yolo_trt_ros.stream.sequence_gaps).
The parts, each tested in-process: subscriptions and arrival in yolo_trt_ros.ros.cameras, the
frame path in yolo_trt_ros.ros.frame_handler, the background engine swap in
yolo_trt_ros.ros.engine_swap.

    ros2 run yolo_trt_ros detector --ros-args -p image_topics:="['/camera/image_raw']" -p autostart:=true
    python -m yolo_trt_ros.ros.detector_node --ros-args --params-file config/detector.yaml
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.lifecycle import (
    LifecycleNode,
    LifecyclePublisher,
    LifecycleState,
    TransitionCallbackReturn,
)
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.task import Future
from rclpy.timer import Timer
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, LabelInfo

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest, PreparedModel
from yolo_trt_ros.engine.tensorrt_build import TensorRTBuilder
from yolo_trt_ros.errors import (
    InvalidSettingError,
    YoloTrtRosError,
)
from yolo_trt_ros.heap import HeapTuning, keep_frame_buffers, release_free_memory
from yolo_trt_ros.image_decoders import DecoderChoice, make_decoder
from yolo_trt_ros.jetson import Nvpmodel, PowerModeCheck, check_power_mode
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.msg import EngineInfo, InferenceTiming
from yolo_trt_ros.ros import diagnostics, messages
from yolo_trt_ros.ros.cameras import Camera, CameraSubscriber, Frame, arrive, unsubscribe
from yolo_trt_ros.ros.engine_swap import DetectorSlot, EngineSwap
from yolo_trt_ros.ros.frame_handler import FrameHandler
from yolo_trt_ros.ros.node_runner import run_node
from yolo_trt_ros.ros.parameters import descriptor_for
from yolo_trt_ros.ros.qos import (
    LATCHED,
    RECHECK_S,
    RECHECK_WAITING_S,
)
from yolo_trt_ros.ros.service_guard import guard_services
from yolo_trt_ros.ros.transport import warn_about_transport
from yolo_trt_ros.runtime_plan import RuntimePlan, open_detector, prepare_model, resolve_plan
from yolo_trt_ros.settings import (
    APPLIED_AT_ONCE,
    LIVE_PARAMETERS,
    PARAMETERS,
    DetectorConfig,
    ParameterSpec,
    camera_names_for,
    check_parameter_value,
    resolve_classes,
)
from yolo_trt_ros.stream import NewestFrameMailbox, RateCap

__all__ = ["DetectorNode", "main"]

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class DetectorNode(LifecycleNode):
    """YOLO detector as a ROS 2 lifecycle node (see the module docstring)."""

    def __init__(self, node_name: str = "yolo_detector", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._startup_errors: dict[str, str] = {}  # parameter -> why its start-up value was refused
        for spec in PARAMETERS:
            self._declare(spec)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # no request may end the process; a value for the next configure says so in the answer
        guard_services(self, self.get_logger().warn, self._applies_later)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(
            float(self.get_parameter("diagnostics_period").value), self._publish_diagnostics
        )
        self._mailbox: NewestFrameMailbox[Frame] = NewestFrameMailbox()
        self._slot = DetectorSlot()
        self._swap = EngineSwap(self._slot, self.get_logger())
        self._plan_in_use: RuntimePlan | None = None
        self._config = DetectorConfig()
        self._cameras: dict[str, Camera] = {}
        self._subscriber: CameraSubscriber | None = None
        self._outputs: list[LifecyclePublisher] = []  # the cameras' publishers
        self._latched: list[Publisher] = []
        self._label_publishers: list[Publisher] = []  # ~/label_info, and beside each camera's
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._qos_timer: Timer | None = None
        self._facts: dict[str, object] = {}
        self._last_error = ""
        self._heap = HeapTuning(False, "not applied yet (applied on configure)")
        self._decoder: DecoderChoice | None = None
        self._frames = self._frame_handler(self._config)
        self._nvpmodel = Nvpmodel()
        self._power_check: PowerModeCheck | None = None
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

    def _declare(self, spec: ParameterSpec) -> None:
        """Declare one parameter; a bad override (wrong type, out of range, NaN) must not crash start-up."""
        try:
            self.declare_parameter(spec.name, spec.default, descriptor_for(spec))
        except (InvalidParameterValueException, InvalidParameterTypeException) as error:
            self.declare_parameter(
                spec.name, spec.default, descriptor_for(spec), ignore_override=True
            )
            reason = f"parameter {spec.name}: {error}"
            self._startup_errors[spec.name] = reason
            self.get_logger().error(
                f"{reason}; configure will fail until it is set to a valid value"
            )

    @property
    def _detector(self) -> Detector | None:
        return self._slot.detector

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
            f"configured in {time.monotonic() - started:.2f} s: {self._summary()}"
        )
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the cameras and start the inference thread."""
        self._stop.clear()
        self._mailbox.reopen()
        self._subscriber = CameraSubscriber(
            self,
            self._on_image,
            reliability=self._config.qos_reliability,
            depth=self._config.qos_depth,
            serialized=self._config.serialized_images,
        )
        for camera in self._cameras.values():
            self._subscriber.subscribe(camera)
        self._worker = threading.Thread(
            target=self._inference_loop, name="yolo_inference", daemon=True
        )
        self._worker.start()
        if self._config.qos_reliability == "auto":
            self._qos_timer = self.create_timer(RECHECK_WAITING_S, self._recheck_qos)
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
        if self._startup_errors:
            first = next(iter(self._startup_errors))
            raise InvalidSettingError("; ".join(self._startup_errors.values()), first)
        values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        return DetectorConfig.from_values(values)

    def _prepare_model(
        self, config: DetectorConfig, model: Path, plan: RuntimePlan
    ) -> PreparedModel:
        """Find or build the engine (or precision-prepared ONNX) through the engine manager."""
        prepared = prepare_model(
            plan,
            model,
            self._engine_manager(config, "configuring"),
            image_size=(config.image_size, config.image_size) if config.image_size else None,
            calibration_dir=Path(config.calibration_dir) if config.calibration_dir else None,
            optimization_level=config.optimization_level,
            quick_first=config.optimize_in_background,
        )
        if prepared.note:
            self.get_logger().info(f"configuring: {prepared.note}")
        return prepared

    def _engine_manager(
        self, config: DetectorConfig, what: str, cancel: threading.Event | None = None
    ) -> EngineManager:
        cache = EngineCache(
            Path(config.engine_cache_dir) if config.engine_cache_dir else None,
            config.engine_cache_policy,
        )

        def progress(stage: str, percent: float, message: str) -> None:
            self.get_logger().info(f"{what} [{stage} {percent:.0f}%]: {message}")

        return EngineManager(
            cache,
            builder_factory=functools.partial(TensorRTBuilder, cancel=cancel),
            progress=progress,
        )

    def _plan(self, config: DetectorConfig, model: Path) -> RuntimePlan:
        plan = resolve_plan(model, config.backend, config.precision, config.device, config.pipeline)
        if plan.precision == "int8" and not config.calibration_dir and plan.backend != "torch":
            # A power-mode profile may ask for INT8 on a robot without calibration frames at hand.
            self.get_logger().warn(
                "precision int8 needs calibration_dir (a folder of typical camera frames); using fp16 "
                "until one is set"
            )
            plan = replace(plan, precision="fp16")
        return plan

    def _open_detector(self, plan: RuntimePlan, path: Path, config: DetectorConfig) -> Detector:
        detector = open_detector(
            plan,
            path,
            conf=config.confidence_threshold,
            iou=config.iou_threshold,
            max_det=config.max_detections,
            agnostic=config.agnostic_nms,
            imgsz=config.image_size or None,
        )
        try:
            detector.update_settings(classes=resolve_classes(config.classes, detector.names))
            if config.warmup_runs:
                detector.warmup(config.warmup_runs)
        except Exception:
            detector.close()
            raise
        return detector

    def _configure(self) -> None:
        config = self._read_config()
        self._check_power_mode(config)
        self._tune_heap(config)
        self._decoder = self._choose_decoder(config)  # before a possibly long engine build
        model = Path(config.model).expanduser() if config.model else bundled_model_path()
        plan = self._plan(config, model)
        self.get_logger().info(
            f"configuring: model {config.model or 'bundled YOLO11n'}: {plan.describe()} "
            f"({'; '.join(plan.reasons)})"
        )
        loaded = time.monotonic()
        prepared = self._prepare_model(config, model, plan)
        detector = self._open_detector(plan, prepared.path, config)
        self._config, self._plan_in_use = config, plan
        self._frames = self._frame_handler(config)
        self._slot.put(detector)
        self.get_logger().info(
            f"loaded and warmed up in {time.monotonic() - loaded:.2f} s: {detector.backend.version} on "
            f"{detector.backend.device}, {plan.precision}, {plan.pipeline} pipeline, input "
            f"{detector.input_size[0]}x{detector.input_size[1]}, {len(detector.names)} classes"
        )
        self._create_outputs(config)
        self._publish_model_facts(prepared, detector)
        if prepared.follow_up is not None:
            self._start_background_build(prepared.follow_up, plan, config)

    def _start_background_build(
        self, request: ExportRequest, plan: RuntimePlan, config: DetectorConfig
    ) -> None:
        """Build the optimised engine in a thread; swap it in when it is ready (configure stays quick)."""
        self._swap.start(
            lambda cancel: self._engine_manager(
                config, "optimising in the background", cancel
            ).prepare(request),
            lambda path: self._open_detector(plan, path, config),
            self._publish_model_facts,
        )

    def _frame_handler(self, config: DetectorConfig) -> FrameHandler:
        return FrameHandler(
            lambda: self._slot.detector,
            self._slot.lock,
            self._stop,
            max_pixels=config.max_image_pixels,
            class_id_style=config.class_id_style,
            decoder=self._decoder,
        )

    def _choose_decoder(self, config: DetectorConfig) -> DecoderChoice | None:
        topics = range(len(config.image_topics))
        if not any(config.input_type_of(index) == "compressed" for index in topics):
            return None
        choice = make_decoder(config.jpeg_decoder, config.device)
        self.get_logger().info(f"compressed frames: {choice.decoder.name} ({choice.reason})")
        return choice

    def _tune_heap(self, config: DetectorConfig) -> None:
        """Apply the heap settings once per process (they cannot be undone)."""
        if config.reuse_frame_memory and not self._heap.applied:
            self._heap = keep_frame_buffers()
            self.get_logger().info(f"frame memory: {self._heap.detail}")

    def _heap_fact(self, config: DetectorConfig) -> str:
        if self._heap.applied and not config.reuse_frame_memory:
            return (
                f"{self._heap.detail} (still: reuse_frame_memory was true earlier; restart to undo)"
            )
        if not config.reuse_frame_memory:
            return "off (reuse_frame_memory: false)"
        return self._heap.detail

    def _check_power_mode(self, config: DetectorConfig) -> None:
        """Read (and if asked, switch) the Jetson power mode; a problem is a warning, never fatal."""
        check = check_power_mode(
            self._nvpmodel, config.expected_power_modes, switch=config.set_power_mode
        )
        self._power_check = check
        if check.level == "WARN":
            self.get_logger().warn(f"power mode: {check.summary}")
        elif check.mode_name or config.expected_power_modes:
            self.get_logger().info(f"power mode: {check.summary}")
        else:
            self.get_logger().debug(f"power mode: {check.summary}")

    def _create_outputs(self, config: DetectorConfig) -> None:
        # Cameras keep their resolved topics (/front/image, not image), for logs and diagnostics.
        # One camera's name is in logs and diagnostics only, so it may come from the namespace.
        topics = [self.resolve_topic_name(topic) for topic in config.image_topics]
        single = len(topics) == 1
        names = list(config.camera_names) or camera_names_for(
            topics if single else config.image_topics
        )
        for index, (name, topic) in enumerate(zip(names, topics, strict=True)):
            prefix = "~" if single else f"~/{name}"
            self._cameras[name] = Camera(
                name=name,
                topic=topic,
                input_type=config.input_type_of(index),
                detections=self._output(Detection2DArray, f"{prefix}/detections", 10),
                timing=self._output(InferenceTiming, f"{prefix}/timing", 10),
                annotated=self._output(Image, f"{prefix}/annotated", 1)
                if config.publish_annotated
                else None,
                rate_cap=RateCap(config.max_rate_hz),
                logger=self.get_logger().get_child(name),
            )

    def _output(self, message_type: Any, topic: str, depth: int) -> LifecyclePublisher:
        publisher: LifecyclePublisher = self.create_lifecycle_publisher(message_type, topic, depth)
        self._outputs.append(publisher)
        return publisher

    def _publish_model_facts(self, prepared: PreparedModel, detector: Detector) -> None:
        """Publish EngineInfo and LabelInfo (latched) and the diagnostics facts; again after a swap."""
        model, precision = prepared.path, prepared.precision
        plan = self._plan_in_use
        pipeline = plan.pipeline if plan else "host"
        header = Header(stamp=self.get_clock().now().to_msg())
        names = [detector.names.get(i, str(i)) for i in range(max(detector.names, default=-1) + 1)]
        info = messages.engine_info(
            header=header,
            model=str(model),
            backend=detector.backend.name,
            backend_version=detector.backend.version,
            precision=precision,
            device=detector.backend.device,
            pipeline=pipeline,
            optimization_level=prepared.optimization_level,
            input_shape=[1, 3, *detector.input_size],
            class_names=names,
            engine_path=prepared.engine_path,
            cache_key=prepared.cache_key,
            build_seconds=prepared.build_seconds,
            from_cache=prepared.from_cache,
            power_mode=self._power_check.mode_name if self._power_check else "",
        )
        if not self._latched:
            self._latched = [self.create_publisher(EngineInfo, "~/engine_info", LATCHED)]
            # with several cameras also ~/<camera>/label_info, beside ~/<camera>/detections
            label_topics = ["~/label_info"] + [
                f"~/{name}/label_info" for name in self._cameras if len(self._cameras) > 1
            ]
            self._label_publishers = [
                self.create_publisher(LabelInfo, topic, LATCHED) for topic in label_topics
            ]
            self._latched += self._label_publishers
        self._latched[0].publish(info)
        self._publish_labels(detector, header)
        engine = prepared.engine_path or "none (the backend runs the model file)"
        if prepared.follow_up is not None:
            engine += " (quick build; the optimised engine is being built in the background)"
        self._facts = {
            "model": str(model),
            "backend": detector.backend.version,
            "device": detector.backend.device,
            "precision": precision,
            "pipeline": "GPU (letterbox, inference, decode, NMS on the GPU)"
            if pipeline == "gpu"
            else "host",
            "input size": f"{detector.input_size[0]}x{detector.input_size[1]}",
            "output layout": detector.layout,
            "engine": engine,
            "engine cache key": prepared.cache_key or "none",
            "GPU memory": diagnostics.gpu_memory(detector.backend.device),
            "frame memory reuse": self._heap_fact(self._config),
            "JPEG decoder": (
                f"{self._decoder.decoder.name} ({self._decoder.reason})"
                if self._decoder
                else "none (no compressed topics)"
            ),
        }

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        self._last_error = reason
        self.get_logger().error(f"configure failed: {reason}")
        self._release()
        return FAILURE

    def _summary(self) -> str:
        cameras = ", ".join(
            f"{c.topic} ({c.input_type}) -> {c.detections.topic_name}"
            for c in self._cameras.values()
        )
        return f"{self._facts.get('backend')} on {self._facts.get('device')}; {cameras}"

    # --- data flow -------------------------------------------------------------------------------

    def _recheck_qos(self) -> None:
        """Re-subscribe when publishers appear whose reliability the subscription does not match."""
        # a topic without publishers: check again soon (qos.RECHECK_WAITING_S)
        waiting = self._subscriber is not None and self._subscriber.recheck(self._cameras.values())
        period_ns = int((RECHECK_WAITING_S if waiting else RECHECK_S) * 1e9)
        if self._qos_timer is not None and self._qos_timer.timer_period_ns != period_ns:
            self._qos_timer.timer_period_ns = period_ns

    def _on_image(
        self, camera: Camera, msg: Image | CompressedImage | bytes, info: Mapping[str, Any] | None
    ) -> None:
        arrive(
            camera,
            msg,
            info,
            self._mailbox,
            max_pixels=self._config.max_image_pixels,
            now_ns=lambda: self.get_clock().now().nanoseconds,
        )

    def _inference_loop(self) -> None:
        while not self._stop.is_set():
            for camera_name, frame in self._mailbox.take(timeout=0.2):
                camera = self._cameras.get(camera_name)
                if camera is None:
                    continue  # released, with its counters
                if self._stop.is_set():
                    camera.stats.discarded()
                else:
                    self._frames.process(camera, frame)

    # --- teardown --------------------------------------------------------------------------------

    def _stop_processing(self) -> None:
        self._stop.set()
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        for camera_name, _ in self._mailbox.take(timeout=0):  # closed: returns at once
            if (camera := self._cameras.get(camera_name)) is not None:
                camera.stats.discarded()
        if self._qos_timer is not None:
            self.destroy_timer(self._qos_timer)
            self._qos_timer = None
        for camera in self._cameras.values():
            unsubscribe(self, camera)

    def _release(self) -> None:
        # First void and stop a background build, which may be about to publish EngineInfo.
        self._slot.void()
        self._swap.stop()
        for publisher in self._outputs:
            self.destroy_lifecycle_publisher(publisher)
        self._cameras.clear()
        self._outputs = []
        for latched in self._latched:
            self.destroy_publisher(latched)
        self._latched, self._label_publishers = [], []
        detector = self._slot.take()
        if detector is not None:
            detector.close()
            release_free_memory()  # else the freed model stays resident (reuse_frame_memory)
        self._plan_in_use = None
        self._decoder = None
        self._facts = {}

    # --- parameters and diagnostics --------------------------------------------------------------

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        deleted = [p.name for p in parameters if p.type_ == Parameter.Type.NOT_SET]
        if deleted:  # rclpy would undeclare them, and every later configure would fail
            return SetParametersResult(
                successful=False,
                reason=f"parameters of this node cannot be deleted ({', '.join(deleted)}); set a value instead",
            )
        try:
            for parameter in parameters:
                check_parameter_value(parameter.name, parameter.value)
            # the whole configuration as it would be: refuses now what configure would refuse
            # (lists, device, image size, topics), naming the parameter
            values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
            values.update({p.name: p.value for p in parameters if p.name in values})
            DetectorConfig.from_values(values)
            live = {p.name: p.value for p in parameters if p.name in LIVE_PARAMETERS}
            if live and self._detector is not None:
                self._detector.update_settings(
                    **{LIVE_PARAMETERS[name]: value for name, value in live.items()}
                )
                self.get_logger().info(f"applied {', '.join(f'{k}={v}' for k, v in live.items())}")
                if "confidence_threshold" in live:  # LabelInfo.threshold follows it
                    self._publish_labels(self._detector)
        except InvalidSettingError as error:
            return SetParametersResult(successful=False, reason=str(error))
        for parameter in parameters:
            if parameter.name == "diagnostics_period":
                self._set_diagnostics_period(float(parameter.value))
        for parameter in parameters:  # a value refused at start-up is corrected now
            if self._startup_errors.pop(parameter.name, None):
                self.get_logger().info(f"parameter {parameter.name} is valid again")
        later = [
            p.name
            for p in parameters
            if p.name not in APPLIED_AT_ONCE and self._detector is not None
        ]
        if later:
            self.get_logger().info(f"{', '.join(later)} will take effect on the next configure")
        return SetParametersResult(successful=True)

    def _applies_later(self, parameters: list[Parameter]) -> str:
        """Return the reason to answer for values set while configured that only configure reads."""
        if self._detector is not None and any(p.name not in APPLIED_AT_ONCE for p in parameters):
            return "stored; applies at the next configure (cleanup + configure)"
        return ""

    def _publish_labels(self, detector: Detector, header: Header | None = None) -> None:
        """Publish LabelInfo (classes, current confidence threshold) on every label topic."""
        if header is None:
            header = Header(stamp=self.get_clock().now().to_msg())
        message = messages.label_info(detector.names, header, detector.settings.conf)
        for publisher in self._label_publishers:
            publisher.publish(message)

    def _set_diagnostics_period(self, seconds: float) -> None:
        self.destroy_timer(self._diagnostics_timer)
        self._diagnostics_timer = self.create_timer(seconds, self._publish_diagnostics)
        self.get_logger().info(f"diagnostics every {seconds:g} s")

    def _publish_diagnostics(self) -> None:
        state = self.lifecycle_state
        node_name = self.get_fully_qualified_name()
        facts = dict(self._facts)
        if "GPU memory" in facts:  # asked again each time: it changes
            facts["GPU memory"] = diagnostics.gpu_memory(str(facts.get("device", "")))
        statuses = [diagnostics.detector_status(node_name, state, facts, self._last_error)]
        if self._power_check is not None:
            statuses.append(diagnostics.power_mode_status(node_name, self._power_check))
        for camera in list(self._cameras.values()):
            details = {
                "camera": camera.name,
                "input type": camera.input_type,
                "QoS": camera.qos_note or "not subscribed",
                "rate cap (Hz)": f"{camera.rate_cap.rate_hz:g}"
                if camera.rate_cap.rate_hz
                else "none",
            }
            status = diagnostics.camera_status(
                node_name,
                camera.name,
                camera.topic,
                details,
                camera.stats.snapshot(),
                state == "active",
                missed_unknown=camera.transport.missed_unknown() if camera.transport else "",
                missed_caveat=camera.transport.missed_caveat() if camera.transport else "",
            )
            statuses.append(warn_about_transport(status, camera.transport, state == "active"))
        self._diagnostics.publish(
            DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=statuses)
        )

    def shut_down(self) -> None:
        """Leave cleanly from any state (used on Ctrl-C and at the end of main)."""
        if self.lifecycle_state not in ("finalized",):
            try:
                self.trigger_shutdown()
            except Exception:  # noqa: BLE001 - already shutting down; release directly
                self._stop_processing()
                self._release()


def main(args: list[str] | None = None) -> int:
    """Run the detector node until it is finalized, Ctrl-C or SIGTERM; shut it down cleanly."""
    # rclpy's own SIGINT handler would invalidate the context before the node could stop its
    # inference thread and transition to finalized: own_signals raises KeyboardInterrupt instead.
    # One thread: frames only enter the mailbox here, inference has its own thread. rclpy's
    # MultiThreadedExecutor took only 46 of 300 1080p frames at 30 Hz next to the GPU pipeline
    # on an H200 host, this executor all 300 (docs/tensorrt.md). The price: while configure
    # builds an engine, services and timers wait for it (the build logs its progress).
    return run_node(
        DetectorNode,
        args,
        spin=_spin_until_finished,
        stop=DetectorNode.shut_down,
        executor=SingleThreadedExecutor,
        own_signals=True,
    )


def _spin_until_finished(node: DetectorNode, executor: Executor) -> None:
    executor.spin_until_future_complete(node.finished)  # until finalized or Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
