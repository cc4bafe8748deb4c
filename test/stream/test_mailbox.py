"""The newest-frame mailbox (yolo_trt_ros/stream/mailbox.py): one slot per camera."""

from __future__ import annotations

import threading
import time

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


def _wait_until_a_consumer_waits(mailbox: NewestFrameMailbox[int]) -> None:
    deadline = time.monotonic() + 10
    while not mailbox._idle_consumers:  # the consumer thread waits
        assert time.monotonic() < deadline, "the consumer never waited"
        time.sleep(0.001)


def test_a_frame_for_an_idle_consumer_is_handed_over_before_put_returns() -> None:
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s=30)
    taken: list[list[tuple[str, int]]] = []
    consumer = threading.Thread(target=lambda: taken.append(mailbox.take(timeout=30)))
    consumer.start()
    _wait_until_a_consumer_waits(mailbox)
    producer = threading.Thread(target=mailbox.put, args=("left", 7))
    producer.start()
    producer.join(timeout=10)  # put waits for the hand-over, and take ends it: not the 30 s
    consumer.join(timeout=10)
    assert not producer.is_alive() and not consumer.is_alive()
    assert taken == [[("left", 7)]]
    assert mailbox.take(timeout=0) == []  # it was taken, not left behind


def test_a_busy_consumer_makes_no_producer_wait() -> None:
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s=60)
    producer = threading.Thread(target=lambda: mailbox.put("left", 1))
    producer.start()
    producer.join(timeout=10)  # nobody waits in take(): put returns at once, not after 60 s
    assert not producer.is_alive()
    assert mailbox.take(timeout=0) == [("left", 1)]


def test_two_producers_handing_over_never_leave_the_consumer_asleep() -> None:
    """Producers waiting for a hand-over share the consumer's condition: every put wakes all."""
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s=30)
    taken: list[tuple[str, int]] = []

    def consume() -> None:
        while len(taken) < 2:
            taken.extend(mailbox.take(timeout=30))

    consumer = threading.Thread(target=consume)
    consumer.start()
    _wait_until_a_consumer_waits(mailbox)
    producers = [
        threading.Thread(target=mailbox.put, args=(name, index))
        for index, name in enumerate(("left", "right"))
    ]
    for producer in producers:
        producer.start()
    consumer.join(timeout=10)
    for producer in producers:
        producer.join(timeout=10)
    assert sorted(taken) == [("left", 0), ("right", 1)]
