"""Accept or refuse a call before it spends anything.

Two questions, asked at the door: is there room (`Admission`, per worker: each call in flight
holds one of the server's threads, so a bound on calls keeps threads free for everything else),
and can the call finish within the deadline it asked for (`finish_estimate`, from the queue the
dispatcher already holds)? A call that is let in is never failed for time afterwards.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from catfacts.errors import ServiceUnavailable, shutting_down
from catfacts.observe import metrics


class Closing:
    """The one flag that says the service is shutting down, and the one refusal it gives.

    Set from any thread (a signal handler's); the door (`Admission`, the dispatcher) refuses every
    call from then on, and calls already in ask it between requests.
    """

    def __init__(self) -> None:
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Shutdown has begun: every call from now on is refused."""
        self._closed.set()

    def refuse(self) -> None:
        """At the door: a 503 with `Retry-After: 1` once shutdown has begun, else nothing."""
        if self.closed:
            metrics.refused("shutting_down")
            raise shutting_down()


class Admission:
    """At most `limit` fact calls in flight in this process, and none once it is `closing`."""

    def __init__(self, limit: int, retry_after: int, closing: Closing | None = None) -> None:
        self.limit = limit
        self._retry_after = retry_after
        self._free = threading.BoundedSemaphore(limit)
        self.closing = closing or Closing()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for one call, or refuse it at once with a 503 and `Retry-After`."""
        self.closing.refuse()
        if not self._free.acquire(blocking=False):
            metrics.refused("busy")
            raise ServiceUnavailable(
                f"the service is busy: {self.limit} calls in flight (CATFACTS_MAX_CALLS)",
                retry_after=self._retry_after,
            )
        try:
            with metrics.call_in_flight():
                yield
        finally:
            self._free.release()


def finish_estimate(
    ahead: int,
    *,
    credit: int,
    limit: int,
    window: float,
    blocked: float,
    round_trip: float,
) -> float:
    """Seconds until the last of a call's facts is back, when `ahead` requests (its own last one
    included) go before it, taking turns (`Turns.sent_before`).

    The first `credit` requests go after `blocked` seconds; the rest go L per window, each
    batch a window and a round trip after the last (a slot frees a window after its answer).
    The queues of other workers sharing a Redis budget are in `ahead` (`forecast`).
    """
    if ahead <= 0:
        return blocked
    later = max(ahead - credit, 0)
    return blocked + math.ceil(later / limit) * (window + round_trip) + round_trip


def refuse_if_late(n: int, estimate: float, deadline: float) -> None:
    """A 503 now, before anything is spent, for a call that would miss its deadline."""
    if estimate > deadline:
        metrics.refused("deadline")
        raise ServiceUnavailable(
            f"{n} facts would take about {estimate:.1f} s with the calls queued here, "
            f"more than the {deadline:g} s deadline",
            retry_after=math.ceil(estimate - deadline),
        ).with_details(estimate=round(estimate, 1), deadline=deadline)
