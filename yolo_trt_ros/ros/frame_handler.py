"""One arrived frame through the model: message -> pixels -> detections -> the camera's messages.

Runs on the detector node's inference thread. Pixels come from the message without a copy where
possible; a JPEG for the GPU pipeline is decoded straight into GPU memory. The camera publishes
Detection2DArray for every frame (as serialized bytes where the middleware serializes it as
``detection_cdr`` does), and InferenceTiming and the annotated image only while someone
listens. Every frame taken from the mailbox lands in exactly one counter (StreamStats).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from yolo_trt_ros.core.annotate import draw_detections
from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.core.preprocess import to_bgr8
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.image_decoders import DecoderChoice
from yolo_trt_ros.image_headers import EncodedImage
from yolo_trt_ros.ros import messages
from yolo_trt_ros.ros.cameras import Camera, Frame
from yolo_trt_ros.ros.detection_cdr import SerializedDetections
from yolo_trt_ros.ros.image_conversion import (
    array_to_image_msg,
    compressed_to_array,
    compressed_to_device,
    image_to_array,
)

__all__ = ["FrameHandler"]


def _decoder_warning(camera: Camera, text: str) -> None:
    camera.warn(
        "decoder", f"the decoder warned about a frame from {camera.topic} (still used): {text}"
    )


class FrameHandler:
    """Turns a camera's frames into detections and publishes them on the camera's outputs."""

    def __init__(
        self,
        detector: Callable[[], Detector | None],
        lock: threading.Lock,
        stopping: threading.Event,
        *,
        max_pixels: int,
        class_id_style: str,
        decoder: DecoderChoice | None,
    ) -> None:
        self._detector = detector  # the current one: an engine swap may replace it
        self._lock = lock  # held while the model runs: a swap or release waits for the frame
        self._stopping = stopping  # set while the node stops: a failure then is not an error
        self.max_pixels = max_pixels
        self.class_id_style = class_id_style
        self.decoder = decoder
        self.serialized = SerializedDetections()
        self.serialized.check(
            serialize_message,
            deserialize_message,
            messages.detection_array,
            Header(frame_id="probe"),
        )

    def _publish_detections(self, camera: Camera, found: Detections, header: Header) -> None:
        if self.serialized.enabled:
            try:
                camera.detections.publish(
                    self.serialized.serialize(found, header, self.class_id_style)
                )
                return
            except TypeError as error:  # an rclpy whose publish() takes no bytes
                self.serialized.disable(f"publish(bytes) refused: {error}")
        camera.detections.publish(messages.detection_array(found, header, self.class_id_style))

    def pixels(
        self,
        camera: Camera,
        msg: Any,
        gpu_stream: int | None,
        header: EncodedImage | None = None,
    ) -> tuple[Any, str]:
        """Return a frame's pixels: a JPEG for the GPU pipeline is decoded straight into GPU memory.

        ``header``: what the compressed frame's header declared when it arrived (not read again).
        """
        if camera.input_type != "compressed":
            return image_to_array(msg, max_pixels=self.max_pixels)
        decoder = self.decoder.decoder if self.decoder else None
        fallbacks = getattr(decoder, "fallbacks", 0)
        on_gpu = compressed_to_device(
            msg,
            decoder=decoder,
            cuda_stream=gpu_stream,
            max_pixels=self.max_pixels,
            header=header,
        )
        if on_gpu is not None:
            return on_gpu
        if getattr(decoder, "fallbacks", 0) != fallbacks:  # the GPU decoder refused this JPEG
            reason = getattr(decoder, "last_fallback", "")
            camera.warn(
                "gpu_decode", f"a JPEG went to OpenCV, the GPU decoder refused it: {reason}"
            )
            decoder = None  # OpenCV, without asking the GPU decoder a second time
        return compressed_to_array(
            msg,
            max_pixels=self.max_pixels,
            decoder=decoder,
            on_decoder_message=functools.partial(_decoder_warning, camera),
            header=header,
        )

    def process(self, camera: Camera, frame: Frame) -> None:
        """Detect in one frame and publish the camera's messages; count the frame once."""
        current = self._detector()
        if current is None:
            camera.stats.discarded()
            return
        started = time.perf_counter()
        msg = frame.msg  # a serialized frame's pixels stay in its bytes: no copy, no message
        try:
            gpu_stream = getattr(current, "device_stream", None)
            image, pixel_format = self.pixels(camera, msg, gpu_stream, frame.header)
            converted = time.perf_counter()
            with self._lock:  # an engine swap waits for this frame
                detector = self._detector()
                if detector is None:
                    camera.stats.discarded()
                    return
                if not isinstance(image, np.ndarray) and detector.device_stream != gpu_stream:
                    image = np.asarray(image.cpu(), np.uint8)  # the engine changed meanwhile
                found = detector(image, pixel_format)
                times = detector.last_times
            detected = time.perf_counter()
            self._publish_detections(camera, found, msg.header)
        except InvalidImageError as error:
            camera.stats.bad_frame(str(error))
            camera.warn(error.kind, f"dropped a frame from {camera.topic}: {error}")
            return
        except Exception as error:  # noqa: BLE001 - one bad frame must not stop the stream
            if self._stopping.is_set():
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
