"""What the upstream tells us about its quota, which other clients may be spending too.

The upstream counts per client IP, so the limiter's own bookkeeping is not the whole truth: the
upstream's `X-RateLimit-Remaining` is. `UpstreamQuota` turns it into credit, the number of
requests we may send before we hear from the upstream again:

- credit is the last `Remaining`, less what we have in flight since (they may not be counted yet);
- when `Remaining` reaches 0, wait until W after that answer, when its window has surely ended,
  or until the reset that answer announced (`Retry-After`, or a reset in any dialect);
- once a window has passed since the last answer (or since the one that said 0), that window has
  ended: open the next one in full if every hit the upstream counted in it was ours (Remaining
  counted down by one per answer from L-1); otherwise, and whenever unsure (at start, after a
  429), send one probe and let its answer set the credit. So we never send more at once than
  the upstream last said remains, and a client that spends half of every window costs a few 429s
  in all, not a burst of them every window.

Answers to requests sent before the last reset or 429 are stale and change nothing, and so is
an answer overtaken by the answer to a request sent after it: that one has the newer count.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from catfacts.errors import UpstreamError
from catfacts.upstream.client import Reply
from catfacts.upstream.headers import Quota

log = logging.getLogger(__name__)


def wait_for_reset(quota: Quota | None, window: float) -> float:
    """How long until the window the upstream spoke of has surely ended.

    `Retry-After` always stands: it counts whole seconds rounded down, so one second more, and a
    fixed window never needs more than one window, whatever it says. An announced reset is whole
    seconds too, and never worth waiting more than a window for.
    """
    if quota is not None and quota.retry_after is not None:
        return min(quota.retry_after, math.ceil(window)) + 1.0
    if quota is not None and quota.reset_in is not None:
        return min(quota.reset_in + 1.0, window)
    return window


def heard(outcome: Reply | UpstreamError | None) -> Quota | None:
    """What an answer says of the quota. A fact without rate headers: the upstream has no limit
    to tell; an error without them (a proxy's 502, a timeout): it tells nothing."""
    if isinstance(outcome, Reply):
        return outcome.quota
    if outcome is None or outcome.quota is None or outcome.quota.remaining is None:
        return None
    return outcome.quota


@dataclass(frozen=True)
class Ticket:
    """Marks a request with the quota epoch it was sent in, and its place in the sending order."""

    epoch: int
    sent: int


class UpstreamQuota:
    """Credit to spend on the upstream, from the headers of its answers."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._epoch = 0
        self._credit = 1  # unsure at first: one probe
        self._in_flight = 0
        self._reset_at: float | None = None
        # Were all the hits the upstream counted in this epoch ours? Answers and lowest Remaining.
        self._counted = 0
        self._lowest: int | None = None
        self._heard_at: float | None = None
        self._sent = 0
        self._newest = -1  # the latest-sent request whose answer set the credit

    @property
    def credit(self) -> int:
        """Requests that may go now, before we hear from the upstream again."""
        return max(self._credit, 0)

    def blocked_for(self, now: float) -> float | None:
        """0 if a request may go now; else seconds until the reset, or None: await answers."""
        heard_at = self._heard_at
        if self._in_flight == 0 and heard_at is not None and now >= heard_at + self.window:
            self._next_window()  # the window we last heard of has ended
        if self._credit > 0:
            return 0.0
        if self._reset_at is None and self._in_flight > 0:
            return None
        if self._reset_at is not None and now < self._reset_at:
            return self._reset_at - now
        self._next_window()
        return 0.0

    def spend(self) -> Ticket:
        self._credit -= 1
        self._in_flight += 1
        self._sent += 1
        return Ticket(self._epoch, self._sent)

    def set_rate(self, limit: int, window: float) -> None:
        """The rate to run at changed (`learning`): count windows and credit by it."""
        self.limit, self.window = limit, window

    def answered(self, ticket: Ticket, quota: Quota | None, now: float) -> None:
        """Learn from an answer what may be spent until the next one."""
        self._in_flight -= 1
        if ticket.epoch != self._epoch or quota is None:
            return  # stale, or no answer at all (a timeout): nothing learned
        if quota.remaining is None:
            self._credit = self.limit  # the upstream says nothing: the limiter alone rules
        else:
            self._counted += 1
            lowest = self._lowest
            self._lowest = quota.remaining if lowest is None else min(lowest, quota.remaining)
            self._heard_at = now
            if ticket.sent < self._newest:
                return  # overtaken: a request sent later already told us more
            self._newest = ticket.sent
            self._credit = quota.remaining - self._in_flight
            if quota.remaining == 0:
                wait = wait_for_reset(quota, self.window)
                self._reset_at = now + wait
                log.info("the upstream says none remain: waiting %.3g s for its window", wait)

    def unsure(self, not_before: float | None = None) -> None:
        """What we believed may be wrong (a 429, a limiter that lost its state): probe.

        Not before `not_before`, nor before a reset we are already waiting for: the upstream's
        word that none remain stands.
        """
        waits = [t for t in (self._reset_at, not_before) if t is not None]
        self._start_epoch(0 if waits else 1)
        self._reset_at = max(waits, default=None)

    def _next_window(self) -> None:
        alone = self._lowest is not None and self._counted + self._lowest == self.limit
        self._start_epoch(self.limit if alone else 1)

    def _start_epoch(self, credit: int) -> None:
        self._epoch += 1
        self._credit = credit
        self._reset_at = None
        self._counted = 0
        self._lowest = self._heard_at = None
