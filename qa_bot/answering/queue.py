"""Turns at a model that writes one answer at a time: first come, first served, with a place in line.

The embedded model on 2 cores writes one answer at a time (two at once would each take twice as
long, and both people would wait on a frozen page). Every chat session of a server process shares
one QABot, so its queue orders their questions: each asker learns their place in line and an
estimate from how long recent answers took, while retrieval and the sources are already shown.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass

# How many recent answer times the estimate is taken from.
_RECENT = 20


@dataclass(frozen=True)
class Ticket:
    """One question's place; `AnswerQueue.leave` must be called with it, whatever happens."""

    number: int


class AnswerQueue:
    def __init__(self, slots: int) -> None:
        self.slots = slots  # answers written at once
        self._line: list[Ticket] = []  # the first `slots` are being answered, the rest wait in order
        self._issued = 0
        self._changed = threading.Condition()
        self._durations: deque[float] = deque(maxlen=_RECENT)

    def join(self) -> Ticket:
        with self._changed:
            self._issued += 1
            ticket = Ticket(self._issued)
            self._line.append(ticket)
            return ticket

    def ahead_of(self, ticket: Ticket) -> int:
        """How many questions will be answered before this one starts (0: it is being answered)."""
        with self._changed:
            return max(0, self._line.index(ticket) - self.slots + 1)

    def wait_for_change(self, ticket: Ticket, timeout: float) -> int:
        """Waits until the line moves (or `timeout` passes); returns the new `ahead_of`."""
        with self._changed:
            if self._line.index(ticket) >= self.slots:
                self._changed.wait(timeout)
        return self.ahead_of(ticket)

    def leave(self, ticket: Ticket, answered_in: float | None = None) -> None:
        with self._changed:
            if ticket in self._line:
                self._line.remove(ticket)
            if answered_in is not None:
                self._durations.append(answered_in)
            self._changed.notify_all()

    def estimate_s(self, ahead: int) -> float | None:
        """Seconds until a question with `ahead` questions before it starts; None before any answer."""
        if not self._durations:
            return None
        return statistics.median(self._durations) * ahead / self.slots
