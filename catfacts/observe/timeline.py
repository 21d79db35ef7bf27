"""What happened to each upstream request of one call, and what the call waited for.

Every call records, whatever its strategy: for each upstream request, when it was queued, sent
and answered, its status and its attempt; the limiter's waits; and, at the end, its total against
the ideal. The caller can have it with the facts (`?trace=1`), so it works whichever worker
answers. Recording must stay cheap enough to leave on for every call: an `Attempt` is a few slots
set from one clock, and nothing is formatted until someone asks for the trace.

All times are `time.monotonic()`, the clock of the background loop too, and are reported in
milliseconds since the call started.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

OK = "ok"  # a fact came back
REFUSED = "refused"  # 429: the upstream's limit was reached
ERROR = "error"  # 5xx, a malformed answer, a timeout, no connection
CANCELLED = "cancelled"  # the call ended (hang-up, deadline, shutdown) before the answer came

_clock = time.monotonic
CONTIGUOUS = 0.001  # seconds between two waits that are really one


class Attempt:
    """One upstream request: fact `index`, try number `attempt`, and what became of it."""

    __slots__ = (
        "answered",
        "attempt",
        "index",
        "outcome",
        "queued",
        "retried",
        "sent",
        "status",
        "timeline",
    )

    def __init__(self, timeline: Timeline, index: int, attempt: int, queued: float) -> None:
        self.timeline = timeline
        self.index = index
        self.attempt = attempt
        self.queued = queued
        self.sent: float | None = None
        self.answered: float | None = None
        self.status: int | None = None  # the upstream's HTTP status; None when it never answered
        self.outcome: str | None = None
        self.retried = False  # the strategy sent this fact again after this attempt

    def send(self) -> None:
        """The request leaves now (it had its connection, and its slot if it needed one)."""
        self.sent = _clock()

    def answer(self, status: int | None, outcome: str) -> None:
        """The request is over: answered with `status`, or failed without an answer (None)."""
        self.answered = _clock()
        self.status = status
        self.outcome = outcome
        self.timeline.finished(self)

    def to_json(self, start: float) -> dict[str, Any]:
        return {
            "fact": self.index,
            "attempt": self.attempt,
            "queued_ms": _ms(self.queued, start),
            "sent_ms": _ms(self.sent, start),
            "answered_ms": _ms(self.answered, start),
            "status": self.status,
            "outcome": self.outcome,
            "retried": self.retried,
        }


class Timeline:
    """One call's record: its requests, its waits, and its end.

    `rate` is the upstream's limit as (requests, window seconds), for the ideal; a strategy that
    learns a lower limit sets `limit`. `listener`, if set, hears of every request as it finishes
    (a streamed response sends it on at once).
    """

    def __init__(self, strategy: str, n: int, request_id: str, rate: tuple[int, float]) -> None:
        self.strategy = strategy
        self.n = n
        self.request_id = request_id
        self.limit, self.window = rate
        self.start = _clock()
        self.end: float | None = None
        self.requests: list[Attempt] = []
        self.waits: list[tuple[float, float, str]] = []
        self.listener: Callable[[Attempt], None] | None = None
        self.wait_listener: Callable[[float, float, str], None] | None = None

    def attempt(self, index: int, attempt: int = 1, queued: float | None = None) -> Attempt:
        """A new request for fact `index`, queued now unless `queued` says when."""
        record = Attempt(self, index, attempt, _clock() if queued is None else queued)
        self.requests.append(record)
        return record

    def finished(self, attempt: Attempt) -> None:
        if self.listener is not None:
            self.listener(attempt)

    def waited(self, start: float, end: float, reason: str) -> None:
        """The call could send nothing from `start` to `end`, because of `reason`.

        The dispatcher wakes at every answer and waits again: a wait for the same reason that
        follows on from the last one extends it, so a window's wait is one wait, not twenty (a
        listener hears the longer wait again, with the same start).
        """
        if self.waits:
            first, last, last_reason = self.waits[-1]
            if last_reason == reason and first <= start <= last + CONTIGUOUS:
                self.waits.pop()
                start, end = first, max(last, end)
        self.waits.append((start, end, reason))
        if self.wait_listener is not None:
            self.wait_listener(start, end, reason)

    def close(self) -> None:
        if self.end is None:
            self.end = _clock()

    def round_trip(self) -> float | None:
        """The median time from sent to answered of the requests that got an answer."""
        times = [
            a.answered - a.sent
            for a in self.requests
            if a.status is not None and a.sent is not None and a.answered is not None
        ]
        return statistics.median(times) if times else None

    def ideal(self) -> float | None:
        """The fastest any client could have all n facts: the limit's windows, one round trip.

        (ceil(n/L) - 1) windows, then the last window's requests take one round trip (this call's
        median). The same for every strategy, so the three compare against one line.
        """
        if self.n == 0:
            return 0.0
        rtt = self.round_trip()
        if rtt is None:
            return None
        return (math.ceil(self.n / self.limit) - 1) * self.window + rtt

    def counts(self) -> dict[str, int]:
        """Requests by outcome, still in flight included as "in_flight"."""
        counts = {OK: 0, REFUSED: 0, ERROR: 0, CANCELLED: 0, "in_flight": 0}
        for attempt in self.requests:
            counts[attempt.outcome or "in_flight"] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """The call as one line: what it cost and how long it took against the ideal."""
        end = self.end if self.end is not None else _clock()
        ideal, rtt = self.ideal(), self.round_trip()
        return {
            "strategy": self.strategy,
            "requested": self.n,
            "request_id": self.request_id,
            "worker": os.getpid(),
            "total_ms": _ms(end, self.start),
            "ideal_ms": None if ideal is None else round(ideal * 1000, 2),
            "round_trip_ms": None if rtt is None else round(rtt * 1000, 2),
            "limit": {"requests": self.limit, "window_s": self.window},
            "upstream_requests": len(self.requests),
            "outcomes": self.counts(),
        }

    def to_json(self) -> dict[str, Any]:
        """The whole trace: the summary, every request and every wait."""
        start = self.start
        return {
            **self.summary(),
            "requests": [attempt.to_json(start) for attempt in self.requests],
            "waits": [wait_json(s, e, reason, start) for s, e, reason in self.waits],
        }


def wait_json(begin: float, end: float, reason: str, start: float) -> dict[str, Any]:
    return {"start_ms": _ms(begin, start), "end_ms": _ms(end, start), "reason": reason}


def _ms(at: float | None, start: float) -> float | None:
    return None if at is None else round((at - start) * 1000, 2)
