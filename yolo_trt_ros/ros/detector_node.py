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

    ros2 run yolo_trt_ros detector --ros-args -p image_topics:="['/camera/image_raw']" -p autostart:=true
    python -m yolo_trt_ros.ros.detector_node --ros-args --params-file config/detector.yaml
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import (
    LifecycleNode,
    LifecyclePublisher,
    LifecycleState,
    TransitionCallbackReturn,
)
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import Subscription
from rclpy.task import Future
from rclpy.timer import Timer
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, LabelInfo

from yolo_trt_ros.core.annotate import draw_detections
from yolo_trt_ros.core.preprocess import to_bgr8
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager, ExportRequest, PreparedModel
from yolo_trt_ros.engine.tensorrt_build import TensorRTBuilder
from yolo_trt_ros.errors import (
    BuildCancelledError,
    InvalidImageError,
    InvalidSettingError,
    YoloTrtRosError,
)
from yolo_trt_ros.heap import HeapTuning, keep_frame_buffers, release_free_memory
from yolo_trt_ros.image_decoders import DecoderChoice, make_decoder
from yolo_trt_ros.jetson import Nvpmodel, PowerModeCheck, check_power_mode
from yolo_trt_ros.log_throttle import KindThrottle
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.msg import EngineInfo, InferenceTiming
from yolo_trt_ros.ros import diagnostics, messages
from yolo_trt_ros.ros.compat import (
    create_subscription_counting_losses,
    publisher_count,
    with_message_info,
)
from yolo_trt_ros.ros.frame_check import ArrivedFrame, check_on_arrival
from yolo_trt_ros.ros.image_conversion import (
    array_to_image_msg,
    compressed_to_array,
    compressed_to_device,
    image_to_array,
)
from yolo_trt_ros.ros.parameters import (
    APPLIED_AT_ONCE,
    LIVE_PARAMETERS,
    PARAMETERS,
    DetectorConfig,
    ParameterSpec,
    camera_names_for,
    check_parameter_value,
    descriptor_for,
    resolve_classes,
)
from yolo_trt_ros.ros.qos import (
    LATCHED,
    RECHECK_S,
    RECHECK_WAITING_S,
    choose_reliability,
    image_qos,
)
from yolo_trt_ros.ros.service_guard import guard_services
from yolo_trt_ros.ros.transport import TransportMonitor, warn_about_transport
from yolo_trt_ros.runtime_plan import RuntimePlan, open_detector, prepare_model, resolve_plan
from yolo_trt_ros.stream import NewestFrameMailbox, RateCap, StreamStats

__all__ = ["DetectorNode", "main"]

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@dataclass
class _Frame:
    """An image message waiting for the model, with when it arrived."""

    msg: ArrivedFrame  # checked on arrival; serialized (raw subscription) frames already parsed
    receive_ns: int
    receive_monotonic: float


@dataclass
class _Camera:
    """One watched camera: its topic, its outputs and its statistics."""

    name: str
    topic: str
    input_type: str
    detections: LifecyclePublisher
    timing: LifecyclePublisher
    annotated: LifecyclePublisher | None
    rate_cap: RateCap
    stats: StreamStats = field(default_factory=StreamStats)
    subscription: Subscription | None = None
    reliability: ReliabilityPolicy | None = None
    qos_note: str = ""
    drops_seen: int = 0  # frames replaced in the mailbox; written by the executor thread only
    drops_reported: int = 0  # drops_seen at the previous detected frame; inference thread only
    transport: TransportMonitor | None = None
    logger: Any = None  # this camera's own logger: its warnings are throttled apart from others'
    warnings: KindThrottle = field(default_factory=KindThrottle)  # and per kind of problem

    def warn(self, kind: str, text: str) -> None:
        """Log one warning about this camera, throttled per kind (5 s), counting those held back."""
        line = self.warnings.message(kind, f"{self.name}: {text}")
        if line is not None:
            self.logger.warn(line)


def _decoder_warning(camera: _Camera, text: str) -> None:
    camera.warn(
        "decoder", f"the decoder warned about a frame from {camera.topic} (still used): {text}"
    )


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
        self._mailbox: NewestFrameMailbox[_Frame] = NewestFrameMailbox()
        self._detector: Detector | None = None
        self._detector_lock = threading.Lock()  # the inference thread vs an engine swap or release
        self._generation = 0  # bumped on release: a background build of an older configure is void
        self._background: threading.Thread | None = None
        self._cancel_build = threading.Event()  # ends the background build process on cleanup
        self._plan_in_use: RuntimePlan | None = None
        self._config = DetectorConfig()
        self._cameras: dict[str, _Camera] = {}
        self._latched: list[Publisher] = []
        self._label_publishers: list[Publisher] = []  # ~/label_info, and beside each camera's
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._qos_timer: Timer | None = None
        self._facts: dict[str, object] = {}
        self._last_error = ""
        self._heap = HeapTuning(False, "not applied yet (applied on configure)")
        self._decoder: DecoderChoice | None = None
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
        for camera in self._cameras.values():
            self._subscribe(camera)
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
            raise InvalidSettingError("; ".join(self._startup_errors.values()))
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
        with self._detector_lock:
            self._detector = detector
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
        generation = self._generation
        self._cancel_build = threading.Event()
        self.get_logger().info(
            "detecting with the quick engine; the optimised engine is being built in the background "
            "(it can take 10 minutes or more on TensorRT 8.6) and replaces it when ready"
        )
        self._background = threading.Thread(
            target=self._build_and_swap,
            args=(request, plan, config, generation),
            name="yolo_optimise",
            daemon=True,
        )
        self._background.start()

    def _build_and_swap(
        self, request: ExportRequest, plan: RuntimePlan, config: DetectorConfig, generation: int
    ) -> None:
        started = time.monotonic()
        try:
            # The TensorRT build itself runs in its own process (it holds the GIL for minutes);
            # this thread only waits, reports progress and loads the result.
            manager = self._engine_manager(
                config, "optimising in the background", self._cancel_build
            )
            prepared = manager.prepare(request)
            if generation != self._generation:
                return  # cleaned up meanwhile; a finished engine stays cached for the next configure
            detector = self._open_detector(plan, prepared.path, config)
        except BuildCancelledError:
            return
        except Exception as error:  # noqa: BLE001 - the quick engine keeps running
            self.get_logger().warn(
                f"optimising in the background failed ({type(error).__name__}: {error}); "
                "the node keeps the quick engine"
            )
            return
        with self._detector_lock:
            old, current = self._detector, generation == self._generation
            if current and old is not None:
                detector.settings = old.settings  # live parameter changes made meanwhile
                self._detector = detector
        if not current or old is None:
            detector.close()
            return
        old.close()
        self.get_logger().info(
            f"switched to the optimised engine after {time.monotonic() - started:.0f} s: {prepared.path}"
        )
        self._publish_model_facts(prepared, detector)

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
            self._cameras[name] = _Camera(
                name=name,
                topic=topic,
                input_type=config.input_type_of(index),
                detections=self.create_lifecycle_publisher(
                    Detection2DArray, f"{prefix}/detections", 10
                ),
                timing=self.create_lifecycle_publisher(InferenceTiming, f"{prefix}/timing", 10),
                annotated=self.create_lifecycle_publisher(Image, f"{prefix}/annotated", 1)
                if config.publish_annotated
                else None,
                rate_cap=RateCap(config.max_rate_hz),
                logger=self.get_logger().get_child(name),
            )

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

    def _subscribe(self, camera: _Camera) -> None:
        publishers = [
            info.qos_profile.reliability
            for info in self.get_publishers_info_by_topic(self.resolve_topic_name(camera.topic))
        ]
        reliability, why = choose_reliability(self._config.qos_reliability, publishers)
        message_type = CompressedImage if camera.input_type == "compressed" else Image
        camera.transport = TransportMonitor(reliability == ReliabilityPolicy.BEST_EFFORT)
        camera.subscription, camera.transport.losses_unreported = (
            create_subscription_counting_losses(
                self,
                message_type,
                camera.topic,
                with_message_info(functools.partial(self._on_image, camera)),
                image_qos(reliability, self._config.qos_depth),
                on_message_lost=camera.transport.on_message_lost,
                raw=self._config.serialized_images,
            )
        )
        camera.transport.publishers = functools.partial(publisher_count, self, camera.subscription)
        camera.reliability, camera.qos_note = reliability, why
        self.get_logger().info(
            f"{camera.name}: subscribed to {camera.subscription.topic_name} ({message_type.__name__}), QoS {why}"
        )
        if camera.transport.losses_unreported:
            self.get_logger().warn(
                f"{camera.name}: frames lost in transport are not counted: "
                f"{camera.transport.losses_unreported}"
            )

    def _recheck_qos(self) -> None:
        """Re-subscribe when publishers appear whose reliability the subscription does not match."""
        waiting = False  # a topic without publishers: check again soon (qos.RECHECK_WAITING_S)
        for camera in self._cameras.values():
            if camera.subscription is None:
                continue
            found = [
                info.qos_profile.reliability
                for info in self.get_publishers_info_by_topic(camera.subscription.topic_name)
            ]
            waiting = waiting or not found
            wanted, _ = choose_reliability("auto", found)
            if found and wanted != camera.reliability:
                self.destroy_subscription(camera.subscription)
                self._subscribe(camera)
        period_ns = int((RECHECK_WAITING_S if waiting else RECHECK_S) * 1e9)
        if self._qos_timer is not None and self._qos_timer.timer_period_ns != period_ns:
            self._qos_timer.timer_period_ns = period_ns

    def _on_image(
        self, camera: _Camera, msg: Image | CompressedImage | bytes, info: Mapping[str, Any] | None
    ) -> None:
        # Every frame lands in exactly one counter (StreamStats): refused, skipped or in flight.
        if camera.transport is not None:
            camera.transport.observe(len(msg) if isinstance(msg, bytes) else len(msg.data))
            camera.stats.missed(camera.transport.missed_before(info))
        try:  # before the mailbox: a bad frame must not replace a good one waiting there
            checked = check_on_arrival(
                msg,
                compressed=camera.input_type == "compressed",
                max_pixels=self._config.max_image_pixels,
            )
        except InvalidImageError as error:
            camera.stats.refused(str(error))
            camera.warn(error.kind, f"dropped a frame from {camera.topic}: {error}")
            return
        if not camera.rate_cap.admit(time.monotonic()):
            camera.stats.skipped()
            return
        camera.stats.received()
        frame = _Frame(checked, self.get_clock().now().nanoseconds, time.monotonic())
        if self._mailbox.put(camera.name, frame):
            camera.stats.dropped()
            camera.drops_seen += 1

    def _inference_loop(self) -> None:
        while not self._stop.is_set():
            for camera_name, frame in self._mailbox.take(timeout=0.2):
                camera = self._cameras.get(camera_name)
                if camera is None:
                    continue  # released, with its counters
                if self._stop.is_set():
                    camera.stats.discarded()
                else:
                    self._process(camera, frame)

    def _pixels(self, camera: _Camera, msg: Any, gpu_stream: int | None) -> tuple[Any, str]:
        """Return a frame's pixels: a JPEG for the GPU pipeline is decoded straight into GPU memory."""
        if camera.input_type != "compressed":
            return image_to_array(msg, max_pixels=self._config.max_image_pixels)
        decoder = self._decoder.decoder if self._decoder else None
        on_gpu = compressed_to_device(
            msg, decoder=decoder, cuda_stream=gpu_stream, max_pixels=self._config.max_image_pixels
        )
        if on_gpu is not None:
            return on_gpu
        return compressed_to_array(
            msg,
            max_pixels=self._config.max_image_pixels,
            decoder=decoder,
            on_decoder_message=functools.partial(_decoder_warning, camera),
        )

    def _process(self, camera: _Camera, frame: _Frame) -> None:
        if self._detector is None:
            camera.stats.discarded()
            return
        started = time.perf_counter()
        msg = frame.msg  # a serialized frame's pixels stay in its bytes: no copy, no message
        try:
            gpu_stream = getattr(self._detector, "device_stream", None)
            image, pixel_format = self._pixels(camera, msg, gpu_stream)
            converted = time.perf_counter()
            with self._detector_lock:  # an engine swap waits for this frame
                detector = self._detector
                if detector is None:
                    camera.stats.discarded()
                    return
                if not isinstance(image, np.ndarray) and detector.device_stream != gpu_stream:
                    image = np.asarray(image.cpu(), np.uint8)  # the engine changed meanwhile
                found = detector(image, pixel_format)
                times = detector.last_times
            detected = time.perf_counter()
            camera.detections.publish(
                messages.detection_array(found, msg.header, self._config.class_id_style)
            )
        except InvalidImageError as error:
            camera.stats.bad_frame(str(error))
            camera.warn(error.kind, f"dropped a frame from {camera.topic}: {error}")
            return
        except Exception as error:  # noqa: BLE001 - one bad frame must not stop the stream
            if self._stop.is_set():
                camera.stats.discarded()
                return  # shutting down: the publishers may already be gone
            camera.stats.error(f"{type(error).__name__}: {error}")
            camera.logger.error(
                f"{camera.name}: processing a frame failed: {type(error).__name__}: {error}",
                throttle_duration_sec=5.0,
            )
            return
        published = time.perf_counter()
        camera.stats.published((time.monotonic() - frame.receive_monotonic) * 1e3)
        # drops since the previous detected frame, counted whether or not anyone listens, so a
        # late timing subscriber is not handed every drop since start-up
        seen = camera.drops_seen
        dropped, camera.drops_reported = seen - camera.drops_reported, seen
        if camera.timing.get_subscription_count():
            stages = (
                (converted - started) * 1e3 + times.preprocess_ms,
                times.inference_ms,
                times.postprocess_ms + (published - detected) * 1e3,
            )
            total = (time.monotonic() - frame.receive_monotonic) * 1e3
            camera.timing.publish(
                messages.inference_timing(msg.header, frame.receive_ns, stages, total, dropped)
            )
        if camera.annotated is not None and camera.annotated.get_subscription_count():
            pixels = image if isinstance(image, np.ndarray) else np.asarray(image.cpu(), np.uint8)
            drawn = draw_detections(to_bgr8(pixels, pixel_format), found)
            camera.annotated.publish(array_to_image_msg(drawn, msg.header))

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
            if camera.subscription is not None:
                self.destroy_subscription(camera.subscription)
                camera.subscription = None

    def _release(self) -> None:
        # First void and stop a background build, which may be about to publish EngineInfo.
        with self._detector_lock:
            self._generation += 1
        self._stop_background_build()
        for camera in self._cameras.values():
            for publisher in (camera.detections, camera.timing, camera.annotated):
                if publisher is not None:
                    self.destroy_lifecycle_publisher(publisher)
        self._cameras.clear()
        for latched in self._latched:
            self.destroy_publisher(latched)
        self._latched, self._label_publishers = [], []
        with self._detector_lock:
            detector, self._detector = self._detector, None
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

    def _stop_background_build(self) -> None:
        """End a running optimised build (TensorRT cannot cancel one: its process is ended)."""
        if self._background is not None and self._background.is_alive():
            self.get_logger().info(
                "stopping the background engine build; the next configure starts it again"
            )
            self._cancel_build.set()
            self._background.join(timeout=10.0)
        self._background = None

    def shut_down(self) -> None:
        """Leave cleanly from any state (used on Ctrl-C and at the end of main)."""
        if self.lifecycle_state not in ("finalized",):
            try:
                self.trigger_shutdown()
            except Exception:  # noqa: BLE001 - already shutting down; release directly
                self._stop_processing()
                self._release()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # leave spin() the same way Ctrl-C does, while ROS is still up


def main(args: list[str] | None = None) -> int:
    """Run the detector node until it is finalized, Ctrl-C or SIGTERM; shut it down cleanly."""
    # rclpy's own SIGINT handler would invalidate the context before the node could stop its
    # inference thread and transition to finalized; handle the signals here instead.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; ros2 launch and users stop the node with SIGINT, so always take it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    node = DetectorNode()
    # One thread: frames only enter the mailbox here, inference has its own thread. rclpy's
    # MultiThreadedExecutor took only 46 of 300 1080p frames at 30 Hz next to the GPU pipeline
    # on an H200 host, this executor all 300 (docs/tensorrt.md). The price: while configure
    # builds an engine, services and timers wait for it (the build logs its progress).
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin_until_future_complete(node.finished)  # until finalized or Ctrl-C
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.shut_down()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
