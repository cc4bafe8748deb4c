"""The model the detector node runs: loaded on configure, swapped for an optimised engine, released.

Loading runs the configure steps in order (yolo_trt_ros.ros.configure_steps) and logs each step's
notes as it goes, so a failing step leaves the lines of those before it. What was read or chosen
on the way (power mode, heap tuning, decoder, plan) stays here for the node's facts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from std_msgs.msg import Header

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.engine.manager import PreparedModel
from yolo_trt_ros.heap import HeapTuning, release_free_memory
from yolo_trt_ros.image_decoders import DecoderChoice
from yolo_trt_ros.jetson import Nvpmodel, PowerModeCheck
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros import configure_steps, model_facts
from yolo_trt_ros.ros.engine_swap import DetectorSlot, EngineSwap
from yolo_trt_ros.runtime_plan import RuntimePlan
from yolo_trt_ros.settings import DetectorConfig

__all__ = ["ModelInUse"]


class ModelInUse:
    """The node's detector and how it came to be; ``slot`` holds the detector the frames use."""

    def __init__(self, logger: Any, nvpmodel: Nvpmodel | None = None) -> None:
        self._logger = logger
        self._nvpmodel = nvpmodel or Nvpmodel()
        self.slot = DetectorSlot()
        self._swap = EngineSwap(self.slot, logger)
        self.config = DetectorConfig()  # of the last successful load
        self.plan: RuntimePlan | None = None
        self.decoder: DecoderChoice | None = None
        self.power_check: PowerModeCheck | None = None
        self.heap = HeapTuning(False, "not applied yet (applied on configure)")

    @property
    def detector(self) -> Detector | None:
        """The detector in use, if loaded."""
        return self.slot.detector

    def load(self, config: DetectorConfig) -> tuple[PreparedModel, Detector]:
        """Run the configure steps and put the warmed-up detector in the slot; return both."""
        log = self._logger
        self.power_check, note = configure_steps.power_mode(self._nvpmodel, config)
        note.log(log)
        self.heap, heap_note = configure_steps.tune_heap(config, self.heap)
        if heap_note is not None:
            heap_note.log(log)
        self.decoder, decoder_note = configure_steps.choose_decoder(config)  # before a build
        if decoder_note is not None:
            decoder_note.log(log)
        model, plan, notes = configure_steps.plan_runtime(config)
        for plan_note in notes:
            plan_note.log(log)
        loaded = time.monotonic()
        prepared = configure_steps.prepare(config, model, plan, log.info)
        detector = configure_steps.open_configured(plan, prepared.path, config)
        self.config, self.plan = config, plan
        self.slot.put(detector)
        log.info(
            f"loaded and warmed up in {time.monotonic() - loaded:.2f} s: {detector.backend.version} on "
            f"{detector.backend.device}, {plan.precision}, {plan.pipeline} pipeline, input "
            f"{detector.input_size[0]}x{detector.input_size[1]}, {len(detector.names)} classes"
        )
        return prepared, detector

    def optimise_in_background(
        self, prepared: PreparedModel, on_swapped: Callable[[PreparedModel, Detector], None]
    ) -> None:
        """After a quick build, build the optimised engine in a thread and swap it in when ready."""
        if prepared.follow_up is None or self.plan is None:
            return
        request, plan, config = prepared.follow_up, self.plan, self.config
        what, log = "optimising in the background", self._logger.info
        self._swap.start(
            lambda cancel: configure_steps.engine_manager(config, log, what, cancel).prepare(
                request
            ),
            lambda path: configure_steps.open_configured(plan, path, config),
            on_swapped,
        )

    def engine_info(
        self, prepared: PreparedModel, detector: Detector, header: Header
    ) -> EngineInfo:
        """Describe the detector in use (``prepared`` by load or by the background build)."""
        power_mode = self.power_check.mode_name if self.power_check else ""
        return model_facts.engine_info(prepared, detector, self._pipeline, power_mode, header)

    def facts(self, prepared: PreparedModel, detector: Detector) -> dict[str, object]:
        """Return the detector status's facts: the model, the heap tuning, the decoder."""
        heap = model_facts.heap_fact(self.heap, self.config.reuse_frame_memory)
        return model_facts.model_facts(
            prepared, detector, pipeline=self._pipeline, heap=heap, decoder=self.decoder
        )

    @property
    def _pipeline(self) -> str:
        return self.plan.pipeline if self.plan else "host"

    def join_background(self, timeout: float | None = None) -> None:
        """Wait for a background build to end (swapped in, voided or failed)."""
        self._swap.join(timeout)

    def release(self) -> None:
        """Void and stop a background build, close the detector and give its memory back."""
        # First void and stop a background build, which may be about to publish EngineInfo.
        self.slot.void()
        self._swap.stop()
        detector = self.slot.take()
        if detector is not None:
            detector.close()
            release_free_memory()  # else the freed model stays resident (reuse_frame_memory)
        self.plan = None
        self.decoder = None
