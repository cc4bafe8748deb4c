"""What libjpeg/libpng print to fd 2 during a decode is caught; everything else still reaches stderr.

The decoder lines come from the real libjpeg and libpng inside OpenCV, on frames built here; the
"other thread" is a real thread writing to fd 2 while captures run. pytest's ``capfd`` reads
what reached the real file descriptor 2.
"""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.log_throttle import KindThrottle
from yolo_trt_ros.native_stderr import capture_decoder_output
from yolo_trt_ros.ros.image_conversion import compressed_to_array

IMAGE = cv2.GaussianBlur(
    np.random.default_rng(2).integers(0, 256, (240, 320, 3), dtype=np.uint8), (5, 5), 0
)


def _encoded(extension: str) -> bytes:
    ok, data = cv2.imencode(extension, IMAGE)
    assert ok
    return data.tobytes()


def test_libjpeg_warnings_go_to_the_callback_not_to_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    jpeg = _encoded(".jpg")
    corrupt = jpeg[: len(jpeg) // 2] + b"\xff\xd9"  # cut in the middle of the scan, then EOI
    heard: list[str] = []
    image, _ = compressed_to_array(
        CompressedImage(format="jpeg", data=corrupt), on_decoder_message=heard.append
    )
    assert image.shape == IMAGE.shape
    assert heard == ["Corrupt JPEG data: premature end of data segment"]
    assert "Corrupt JPEG" not in capfd.readouterr().err
    # without a callback the lines still reach stderr, as they did before
    compressed_to_array(CompressedImage(format="jpeg", data=corrupt))
    assert "Corrupt JPEG data: premature end of data segment" in capfd.readouterr().err


def test_what_libpng_says_is_part_of_the_refusal(capfd: pytest.CaptureFixture[str]) -> None:
    png = _encoded(".png")
    with pytest.raises(InvalidImageError, match="the decoder said: libpng error: ") as raised:
        compressed_to_array(CompressedImage(format="png", data=png[: len(png) // 2]))
    assert raised.value.kind == "corrupt"
    assert "libpng" not in capfd.readouterr().err


def test_other_lines_written_meanwhile_reach_the_real_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with capture_decoder_output() as printed:
        os.write(2, b"[WARN] [1.0] [node]: another thread's log line\n")
        os.write(2, b"Corrupt JPEG data: 3 extraneous bytes before marker 0xd9\n")
    assert printed.lines == ["Corrupt JPEG data: 3 extraneous bytes before marker 0xd9"]
    assert capfd.readouterr().err == "[WARN] [1.0] [node]: another thread's log line\n"


def test_a_thread_writing_to_stderr_during_captures_loses_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    corrupt = _encoded(".jpg")
    corrupt = corrupt[: len(corrupt) // 2] + b"\xff\xd9"
    stop = threading.Event()
    written: list[int] = []

    def chatter() -> None:
        while not stop.is_set() or len(written) < 200:
            os.write(2, f"chatter {len(written)}\n".encode())
            written.append(len(written))

    thread = threading.Thread(target=chatter)
    thread.start()
    heard: list[str] = []
    try:
        for _ in range(50):
            compressed_to_array(
                CompressedImage(format="jpeg", data=corrupt), on_decoder_message=heard.append
            )
    finally:
        stop.set()
        thread.join()
    err = capfd.readouterr().err
    assert sorted(err.splitlines()) == sorted(f"chatter {i}" for i in written)
    assert heard == ["Corrupt JPEG data: premature end of data segment"] * 50


def test_kind_throttle_keeps_kinds_apart_and_counts_what_it_held() -> None:
    now = [100.0]
    throttle = KindThrottle(5.0, clock=lambda: now[0])
    assert throttle.message("size", "a") == "a"
    assert throttle.message("size", "b") is None
    assert throttle.message("corrupt", "c") == "c"  # another kind has its own window
    now[0] += 4.9
    assert throttle.message("size", "d") is None
    now[0] += 0.2
    assert throttle.message("size", "e") == "e (2 more of this kind not shown)"
    assert throttle.message("corrupt", "f") == "f"
