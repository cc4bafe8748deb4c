"""Frames a camera sent that never reached the subscription callback, from sequence numbers.

Each DDS writer numbers its samples 1, 2, 3, ...; rclpy hands the number to a callback that takes
message info (``publication_sequence_number``, where the middleware fills it). A jump from 41 to 44
means samples 42 and 43 were sent but never taken: lost in transport, or overwritten in the
subscription's KEEP_LAST queue while the executor was busy. The first sample of a publisher only
sets the baseline (what it sent before the subscription matched was never meant for it), and a
number at or below the last one means the publisher restarted (a new baseline).

Numbers are counted per publisher. Where the sample does not say which publisher sent it (Jazzy's
rclpy gives no publisher GID), they can be attributed only while the topic has one publisher:
samples that arrive while several share it are counted as ``unattributed``, and the next sample
after that starts a new baseline.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["SequenceGaps"]

_UNNAMED = object()  # the one publisher of a topic, when samples do not name theirs


def _one() -> int:
    return 1


class SequenceGaps:
    """Counts samples skipped in each publisher's sequence; not thread-safe (one callback feeds it)."""

    def __init__(self, max_publishers: int = 16) -> None:
        self.max_publishers = max_publishers
        self.numbered: bool | None = None
        """True once a sample came with a sequence number, False if they come without; None before."""
        self.unattributed = 0
        """Samples that came while several publishers shared the topic, none named: not counted."""
        self._last: OrderedDict[Hashable, int] = OrderedDict()  # publisher -> its last number

    def observe(
        self,
        sequence: int | None,
        publisher: Hashable | None = None,
        publishers: Callable[[], int] = _one,
    ) -> int:
        """Note a delivered sample; return how many samples of its publisher were skipped before it.

        ``publisher`` identifies the sender where known; otherwise ``publishers()`` (asked only when
        the number is not the next one expected) says how many publishers the topic has.
        """
        if sequence is None:
            self.numbered = bool(self.numbered)
            return 0
        self.numbered = True
        key = _UNNAMED if publisher is None else publisher
        last = self._last.get(key)
        if last is not None and sequence == last + 1:  # the usual case: nothing skipped
            self._last[key] = sequence
            self._last.move_to_end(key)
            return 0
        if publisher is None and publishers() > 1:
            self._last.pop(_UNNAMED, None)  # whose number this is cannot be told: no baseline
            self.unattributed += 1
            return 0
        self._last[key] = sequence
        self._last.move_to_end(key)  # least recently heard first: a publisher gone is forgotten
        while len(self._last) > self.max_publishers:
            self._last.popitem(last=False)
        if last is None or sequence <= last:
            return 0  # a new publisher, or one that restarted: a new baseline
        return sequence - last - 1
