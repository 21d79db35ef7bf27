"""What the upstream tells us about its quota, which other clients may be spending too.

The upstream counts per client IP, so the limiter's own bookkeeping is not the whole truth: the
upstream's `X-RateLimit-Remaining` is. `UpstreamQuota` turns it into credit, the number of
requests we may send before we hear from the upstream again:

- credit is the last `Remaining`, less what we have in flight since (they may not be counted yet);
- when `Remaining` reaches 0, wait until W after that answer, when its window has surely ended;
- then, and whenever unsure (at start, after a 429), send one probe and let its answer set the
  credit: so we never send more at once than the upstream last said remains, and a client that
  spends half of every window costs a few 429s in all, not a burst of them every window.

Answers to requests sent before the last reset or 429 are stale and change nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from catfacts.upstream import Quota

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ticket:
    """Marks a request with the quota epoch it was sent in."""

    epoch: int


class UpstreamQuota:
    """Credit to spend on the upstream, from the headers of its answers."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._epoch = 0
        self._credit = 1  # unsure at first: one probe
        self._in_flight = 0
        self._reset_at: float | None = None

    def blocked_for(self, now: float) -> float | None:
        """0 if a request may go now; else seconds until the reset, or None: await answers."""
        if self._credit > 0:
            return 0.0
        if self._reset_at is None and self._in_flight > 0:
            return None
        if self._reset_at is not None and now < self._reset_at:
            return self._reset_at - now
        self._probe()
        return 0.0

    def spend(self) -> Ticket:
        self._credit -= 1
        self._in_flight += 1
        return Ticket(self._epoch)

    def answered(self, ticket: Ticket, quota: Quota | None, now: float) -> int | None:
        """Learn from an answer; returns the upstream's announced limit when lower than ours."""
        self._in_flight -= 1
        lowered = None
        if quota is not None and quota.limit is not None and quota.limit < self.limit:
            self.limit = lowered = quota.limit
        if ticket.epoch != self._epoch or quota is None:
            return lowered  # stale, or no answer at all (a timeout): nothing learned
        if quota.remaining is None:
            self._credit = self.limit  # the upstream says nothing: the limiter alone rules
        else:
            self._credit = quota.remaining - self._in_flight
            if quota.remaining == 0:
                self._reset_at = now + self.window
                log.info("the upstream says none remain: waiting %g s for its window", self.window)
        return lowered

    def unsure(self) -> None:
        """What we believed may be wrong (a 429, a limiter that lost its state): probe."""
        self._probe()

    def _probe(self) -> None:
        self._epoch += 1
        self._credit = 1
        self._reset_at = None
