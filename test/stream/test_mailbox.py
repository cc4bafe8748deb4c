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


def _hand_over_to_a_slow_consumer(
    mailbox: NewestFrameMailbox[int],
    *,
    after_a_frame: bool = False,
    take_timeout: float = 30,
    idle_s: float = 0,
) -> tuple[dict[str, object], float]:
    """put() one frame to an idle consumer that takes 0.3 s over it, then comes back for more.

    ``after_a_frame``: the consumer has just finished another frame when it goes idle.
    ``take_timeout``: how long each of its take() calls waits while idle (it calls again).
    ``idle_s``: how long the consumer has been idle when the frame is put.
    """
    returned = threading.Event()
    seen: dict[str, object] = {}
    if after_a_frame:
        mailbox.put("left", 6)  # nobody waits yet: it is stored

    def consume() -> None:
        if after_a_frame:
            mailbox.take(timeout=30)  # the earlier frame, done at once
        frames: list[tuple[str, int]] = []
        while not frames:  # idle: as the node's inference thread, take() again after a timeout
            frames = mailbox.take(timeout=take_timeout)
        seen["frames"] = frames
        time.sleep(0.3)  # the frame is being processed
        seen["returned while processing"] = returned.is_set()
        mailbox.take(timeout=0)  # back for the next frame: done with this one

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(idle_s)
    _wait_until_a_consumer_waits(mailbox)
    started = time.monotonic()
    mailbox.put("left", 7)
    returned.set()
    waited = time.monotonic() - started
    consumer.join(timeout=10)
    assert mailbox.take(timeout=0) == []  # it was taken, not left behind
    return seen, waited


def test_put_to_an_idle_consumer_returns_once_it_is_done_with_the_frame() -> None:
    """The hand-over lasts until the consumer is back in take(), not merely until it took the frame."""
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s=30, saturated_gap_s=0)
    seen, waited = _hand_over_to_a_slow_consumer(mailbox)
    assert seen == {"frames": [("left", 7)], "returned while processing": False}
    assert 0.3 <= waited < 10  # the processing, not the 30 s limit


def test_a_consumer_idle_for_long_is_not_taken_for_a_busy_one_after_its_take_timeouts() -> None:
    """The inference thread calls take(timeout) again and again while idle: that is not a frame."""
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s=30, saturated_gap_s=0.1)
    # idle for longer than saturated_gap_s, through many take() timeouts
    seen, _ = _hand_over_to_a_slow_consumer(mailbox, take_timeout=0.02, idle_s=0.3)
    assert seen == {"frames": [("left", 7)], "returned while processing": False}  # it had been idle


def test_a_consumer_that_has_just_become_idle_only_takes_the_frame_before_put_returns() -> None:
    """Frames coming faster than the model: the producer goes back to reading frames at once."""
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s=30, saturated_gap_s=30)
    seen, waited = _hand_over_to_a_slow_consumer(mailbox, after_a_frame=True)
    assert seen == {"frames": [("left", 7)], "returned while processing": True}
    assert waited < 0.3


def test_put_stops_waiting_at_handoff_s_or_when_the_mailbox_is_cleared_or_closed() -> None:
    """A slow consumer holds the producer at most handoff_s; clear() and close() end it at once."""
    for end, handoff_s in (("time", 0.2), ("clear", 30.0), ("close", 30.0)):
        mailbox: NewestFrameMailbox[int] = NewestFrameMailbox(handoff_s, saturated_gap_s=0)
        taken = threading.Event()

        def consume(box: NewestFrameMailbox[int] = mailbox, event: threading.Event = taken) -> None:
            box.take(timeout=30)
            event.set()  # and never comes back to take(): a model slower than handoff_s

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        _wait_until_a_consumer_waits(mailbox)
        producer = threading.Thread(target=mailbox.put, args=("left", 1))
        started = time.monotonic()
        producer.start()
        assert taken.wait(timeout=10)
        if end == "clear":
            assert producer.is_alive()  # still waiting for the consumer to be done
            mailbox.clear()
        elif end == "close":
            assert producer.is_alive()
            mailbox.close()
        producer.join(timeout=10)
        assert not producer.is_alive(), end
        elapsed = time.monotonic() - started
        assert elapsed < 2, (end, elapsed)
        if end == "time":
            assert elapsed >= 0.2, elapsed
        consumer.join(timeout=10)


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
        mailbox.take(timeout=0)  # back for more: done with both

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
        assert not producer.is_alive()
    assert sorted(taken) == [("left", 0), ("right", 1)]
