"""What the upstream tells us about its quota, which other clients may be spending too.

The upstream counts per client IP, so the limiter's own bookkeeping is not the whole truth: the
upstream's `X-RateLimit-Remaining` is. `UpstreamQuota` turns it into credit, the number of
requests we may send before we hear from the upstream again:

- credit is the last `Remaining`, less what we have in flight since (they may not be counted yet);
- when `Remaining` reaches 0, wait until that window has surely ended: the reset the answer
  announced, exactly where the upstream's figure is precise and with what its rounding may hide
  where it rounds down (`wait_for_reset`); or, with no reset announced (Laravel's 200s), the
  window's latest start plus its length, as `WindowFinder` knows them: not a whole window after
  the answer that said 0, which the window may have begun long before;
- once that window has ended: open the next one in full if every hit the upstream counted in it
  was ours (Remaining counted down by one per answer from L-1) and the window's length is
  exact; otherwise, and whenever unsure (at start, after a 429), send one probe and let its
  answer set the credit. So we never send more at once than the upstream last said remains;
- while the window's length is still searched for, a window never fills before we see it end
  (a request sent into a full window is refused, and still arrives): one we saw begin keeps
  `SPARES` requests to look whether it ended, one we did not see begin is not burst into at all;
- the most other clients of our IP spent in either of the last two windows (all, when they are
  new) is left to them in the next until they spend it or half of it has passed, and a count
  older than `STALE` that they may have spent into is asked again: a neighbour costs a 429 now
  and then, not a race every window.

Answers to requests sent before the last reset or 429 are stale and change nothing, and so is
an answer overtaken by a lower count: requests sent together reach the upstream in any order, so
within a window the lowest `Remaining` is the newest count, whichever answer brought it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from catfacts.errors import UpstreamError
from catfacts.strategies.limited.held import HeldCredit
from catfacts.upstream.client import Reply
from catfacts.upstream.headers import Quota

log = logging.getLogger(__name__)

CONTENDED = 2  # more that others are taken to want of a window in which we were refused


def wait_for_reset(quota: Quota | None, window: float) -> float:
    """Seconds after an answer until the window it spoke of has surely ended: exactly what the
    upstream says where its figure is precise (IETF `t`, an HTTP date, epoch milliseconds), plus
    what its rounding may hide where it rounds down (delta or epoch seconds: up to 1 s), with
    `Retry-After` standing over the reset. The margin for rounding is at most `window`; what
    the upstream says stands even past a window we believe in. With no figure, the `window`."""
    span = None if quota is None else quota.wait_span
    if span is None:
        return window
    earliest, latest = span
    return max(earliest + min(latest - earliest, window), 0.0)  # the margin, never past W


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


class UpstreamQuota(HeldCredit):
    """Credit to spend on the upstream, from the headers of its answers.

    `windows`, the learner's `WindowFinder`, says when the upstream's windows end; without it
    a window is taken to end a whole window after the last answer, as the rates say.
    """

    @property
    def credit(self) -> int:
        """Requests that may go now, before we hear from the upstream again."""
        return max(self._credit - self.held(), 0)

    def said(self, now: float) -> tuple[int | None, float | None]:
        """What the upstream last said remains in its window, and seconds until that window
        ends (as announced or found), where known. A look: it changes nothing."""
        until = self._until()
        if until is None and self._heard_at is not None:
            until = self._ended_by(self._heard_at)
        return self._lowest, None if until is None else max(until - now, 0.0)

    def waiting_for(self, now: float) -> float:
        """Seconds the upstream's word holds every request back (a reset, a hold); 0: none."""
        until = self._until()
        return 0.0 if until is None else max(until - now, 0.0)

    def blocked_for(self, now: float) -> float | None:
        """0 if a request may go now; else seconds until the reset, or None: await answers."""
        heard_at = self._heard_at
        if self._in_flight == 0 and heard_at is not None and now >= self._ended_by(heard_at):
            self._next_window()  # the window we last heard of has ended
        held = self.held(now)
        if self._credit - held > 0:
            return 0.0
        until = self._until()
        if until is None and self._in_flight > 0:
            return None
        if until is not None and now < until:
            return until - now
        if until is None and held > 0 and heard_at is not None:
            if self._looking():
                return max(self._ended_by(heard_at) - now, 0.0)  # the next look, one request
            return self.release_at - now  # the others' share, until they spend it or half-time
        self._next_window()
        return 0.0

    def spend(self) -> Ticket:
        self._credit -= 1
        self._in_flight += 1
        self._sent += 1
        return Ticket(self._epoch, self._sent)

    def answered(self, ticket: Ticket, quota: Quota | None, now: float) -> None:
        """Learn from an answer what may be spent until the next one."""
        self._in_flight -= 1
        if ticket.epoch != self._epoch or quota is None:
            return  # stale, or no answer at all (a timeout): nothing learned
        if quota.remaining is None:
            self._credit = self.limit  # the upstream says nothing: the limiter alone rules
            return
        if self._counted == 0:
            self.release_at = now + self._found_window() / 2
        self._counted += 1
        if quota.limit and self._upstream_limit and quota.limit != self._upstream_limit:
            self._partial = True  # another limit named (Laravel's one at a time): its count
        self._upstream_limit = quota.limit or self._upstream_limit
        self._heard_at = now
        lowest = self._lowest
        if lowest is not None and quota.remaining >= lowest:
            # Overtaken: a later count already told us more (requests sent together may arrive
            # in any order, so the lowest count is the newest); this one is just no longer out.
            self._credit = lowest - self._in_flight
            return
        self._lowest = quota.remaining
        self._credit = quota.remaining - self._in_flight
        if quota.remaining == 0:
            self._reset_at = now + self._wait(quota)
            log.info("the upstream says none remain: waiting for its window to end")

    def pause_after(self, quota: Quota | None, now: float) -> float:
        """Seconds every request should wait after a refusal (429) that said `quota`.

        Until its window has surely ended (`wait_for_reset`), or sooner where the answers alone
        say for certain that it ends sooner (a configured window is not enough to cut it); a
        refusal that says nothing, one interval of the pace, which the pacer slows: it has no
        window to wait for.
        """
        if quota is None or quota.says_nothing:
            pace = self._rates.pace
            return 1 / pace if pace else min(self.window, 1.0)
        wait = self._wait(quota)
        windows = self.windows
        ends = None if windows is None else windows.ends_by(surely=True)
        return wait if ends is None else max(min(wait, ends - now), 0.0)

    def unsure(self, not_before: float | None = None) -> None:
        """What we believed may be wrong (a 429, a limiter that lost its state): probe.

        Not before `not_before`, nor before a reset we are already waiting for: the upstream's
        word that none remain stands.
        """
        waits = [t for t in (self._until(), not_before) if t is not None]
        self._start_epoch(0 if waits else 1, contended=True)
        self._hold_until = max(waits, default=None)

    def _until(self) -> float | None:
        """When we may send again, if we must wait: the end of the window that said none
        remain (from its headers, or the windows found if sooner), and any hold."""
        until = self._reset_at
        ends = None if self.windows is None else self.windows.ends_by()
        if until is not None and ends is not None:
            until = min(until, ends)
        waits = [t for t in (until, self._hold_until) if t is not None]
        return max(waits, default=None)

    def _ended_by(self, heard_at: float) -> float:
        """When the window of the last answer has ended: as found, else a window after it."""
        ends = None if self.windows is None else self.windows.ends_by()
        return heard_at + self._upstream_window() if ends is None else ends

    def _wait(self, quota: Quota) -> float:
        """Until the window `quota` spoke of has surely ended, counted from its answer: what it
        says, within the longest window in force (not while the upstream's is a guess); with
        nothing said, the upstream's window as found (or the tightest in force)."""
        if quota.wait_span is None:
            return self._found_window()
        windows = self.windows
        if windows is not None and not windows.certain:
            return wait_for_reset(quota, math.inf)
        found = None if windows is None else windows.window
        return wait_for_reset(quota, max(self._rates.longest_window, found or 0.0) or math.inf)

    def _next_window(self) -> None:
        limit = self._limit()
        alone = self._lowest is not None and self._counted + self._lowest == limit
        sure = self.windows is None or self.windows.exact
        self._start_epoch(limit if alone and sure else 1)

    def _start_epoch(self, credit: int, *, contended: bool = False) -> None:
        if self._lowest is not None and not (self._looking() or self._partial):
            # What others spent; refused, we know they wanted more than we saw them get. Not
            # for a count begun at a look (it may have begun mid-window, after ours), nor one
            # that changed limits (its window began before we heard of that limit).
            spent = self._not_ours() + (CONTENDED if contended else 0)
            self._others.append(max(spent, 0))
        self._partial = self._looking()
        self._epoch += 1
        self._credit = credit
        self._reset_at = self._hold_until = None
        self._counted = 0
        self._lowest = self._heard_at = None
