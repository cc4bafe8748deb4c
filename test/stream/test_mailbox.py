"""The newest-frame mailbox (yolo_trt_ros/stream/mailbox.py): one slot per camera."""

from __future__ import annotations

import threading

from yolo_trt_ros.stream import NewestFrameMailbox


def test_mailbox_keeps_the_newest_frame_per_camera() -> None:
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox()
    assert mailbox.put("left", 1) is False
    assert mailbox.put("right", 10) is False
    assert mailbox.put("left", 2) is True  # frame 1 dropped
    assert mailbox.take(timeout=0) == [("left", 2), ("right", 10)]
    assert mailbox.take(timeout=0.01) == []
    woken: list[list[tuple[str, int]]] = []
    consumer = threading.Thread(target=lambda: woken.append(mailbox.take(timeout=10)))
    consumer.start()
    mailbox.put("left", 3)
    consumer.join(timeout=5)
    assert woken == [[("left", 3)]]
    mailbox.close()
    assert mailbox.take(timeout=10) == []  # closed: returns at once
    mailbox.put("left", 4)
    assert mailbox.clear() == 1
