"""Finding the length W of the upstream's window from the timing of its answers.

An upstream that says `X-RateLimit-Limit` but no window (Laravel, GitHub) still tells, within
brackets, when its windows start and end. Times are ours; the upstream counts a request between
its send and its answer. A window starts with its first hit (L - 1 remain), or after a refill:
within one window each hit leaves one fewer, so an answer counted after one of ours that says as
many or more remain (or accepted after a refusal) is a new window's, begun after that earlier
send. It ends as a reset says (`Quota.reset_span`), before a refill's count, and not before any
request counted in it was sent. So W <= latest end - earliest start and W >= earliest end -
latest start, tightest over all windows. The upper bound is kept sound against reordering and
other clients (an answer that may be an earlier window's lends no reset nor start); the lower is
a best effort, which can only make W too long. W is whole seconds: one whole number in the
bracket is W (`exact`), else the largest (`certain`: surely no shorter). Unbounded, W is searched
for (`searching`): the guess is a second more than it lasted (what the next look may find, so
slots counted for it are kept that long), and `ends_by` says when one request
should look whether the window ended (just past 1, 2, 3 s after its start: W of 1-3 s comes out
exact); a refusal where a guess said it had ended doubles the next guess. An announced window
(IETF `w`) is W, and a configured one (for the same limit, or the only one) stands while the
bracket allows it.
"""

from __future__ import annotations

import logging
import math

from catfacts.strategies.limited.window_estimate import SNAP, WindowEstimate
from catfacts.strategies.limited.window_evidence import (
    Answer,
    WindowSeen,
    first_hit,
    refill_after,
    reset_end,
)
from catfacts.upstream.headers import Quota

__all__ = ["SNAP", "Answer", "WindowFinder"]

log = logging.getLogger(__name__)


class WindowFinder(WindowEstimate):
    """Brackets the upstream's window length W from the answers it hears (see the module)."""

    def hear(self, answer: Answer) -> None:
        """Learn from one answer what it says of the windows."""
        quota = answer.quota
        if quota is None or quota.limit is None or quota.limit < 1:
            return
        if len(quota.policies) > 1:
            return  # several policies: the scalar reading mixes them; each has its own `w`
        self._follow_policy(quota)
        if quota.remaining is None:
            return
        current = self._current
        if current is not None and current.older(answer):
            return
        if answer.refused and current is not None and not self.certain:
            self._search(current, answer)
        if current is None or self._starts_anew(current, answer):
            current = self._open(current, answer)
        self._place(current, answer)
        self._tighten(current)

    def _search(self, current: WindowSeen, refusal: Answer) -> None:
        """Refused where the guess said the window had ended: double the guess (one 429 per
        doubling, not per common window). Only the guess rests on reading the refusal as the
        current window's, never the bracket."""
        guess = self.window or 0.0
        end = reset_end(refusal)
        lasted = (refusal.sent if end is None else end[0]) - current.start[1]
        if lasted >= guess - SNAP:
            self._at_least = 2 * max(guess, lasted)

    def _follow_policy(self, quota: Quota) -> None:
        """A new limit or announced window is another policy: what was found is about the old."""
        announced = quota.window if quota.window else None
        if (quota.limit, announced) != (self._limit, self._announced):
            if self._limit is not None:
                log.info("the upstream's limit changed: finding its window anew")
            self._limit, self._announced = quota.limit, announced
            self._lo, self._hi = 0.0, math.inf
            self._current, self._at_least = None, 0.0

    def _starts_anew(self, current: WindowSeen, answer: Answer) -> bool:
        """Whether `answer` was counted in a later window than `current`."""
        end = reset_end(answer)
        if end is not None and end[0] > current.end[1]:
            return True
        if answer.sent >= min(current.end[1], current.start[1] + (self._announced or self._hi)):
            return True  # sent after the window had surely ended
        if answer.refused:
            return False
        return (first_hit(answer) and answer.sent > current.start[1]) or (
            refill_after(current, answer) is not None
        )

    def _open(self, previous: WindowSeen | None, answer: Answer) -> WindowSeen:
        """A new window, begun by `answer`'s count at the latest: after the last one ended, and
        after the request counted in it last that proved the refill. The one before ended
        before `answer` was counted."""
        window = WindowSeen(follows=previous is not None)
        self._current = window
        if previous is not None:
            previous.narrow(None, (-math.inf, answer.answered))
            self._tighten(previous)
            before = refill_after(previous, answer)
            if before is not None:
                window.narrow((before.sent, math.inf), None)
        if first_hit(answer):
            window.narrow((answer.sent, answer.answered), None)
        window.narrow((-math.inf, answer.answered), reset_end(answer))
        return window

    def _place(self, window: WindowSeen, answer: Answer) -> None:
        """Narrow `window` by an answer counted (or refused) in it: begun before the answer,
        open at the send, ending as the reset says, begun by a first hit. From one that may be
        the last window's, no reset nor first hit; one that was a later window's can only
        stretch the lower bound."""
        if window.not_older(answer):
            first = first_hit(answer)
            if first and answer.sent <= window.start[1] and answer.answered >= window.start[0]:
                window.narrow((answer.sent, answer.answered), None)
            window.narrow(None, reset_end(answer))
        window.narrow((-math.inf, answer.answered), (answer.sent, math.inf))
        window.answers.append(answer)

    def began_by(self, at: float) -> None:
        """The current window began by `at`: what the hits it counted say (`WindowFinders`)."""
        if self._current is not None:
            self._current.narrow((-math.inf, at), None)

    def _tighten(self, window: WindowSeen) -> None:
        lo, hi = window.bounds()
        lo, hi = max(self._lo, lo), min(self._hi, hi)
        if lo > hi + 2 * SNAP:
            # The answers contradict each other (a sliding window, clocks apart): start again
            # from this window's own evidence rather than keep a bracket that holds nothing.
            log.info("the upstream's windows do not add up: finding its window anew")
            lo, hi = window.bounds()
        self._lo, self._hi = lo, hi
