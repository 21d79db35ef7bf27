"""The rates to run at, learned from what the upstream says and does, under any configured ceiling.

- What it announces: every IETF policy with its window, each of which binds; a limit without a
  window (Laravel, GitHub), with the window `WindowFinder` finds from the answers' timing.
- What it does when it announces nothing (a proxy's bare 429): a pace, searched for by `Pacer`.

A stricter rate is obeyed at once: the upstream will refuse what exceeds it. A looser one is
believed once announced consistently for a whole window, so one odd answer cannot make us burst;
but a window found shorter for certain (bounded from above by the answers) is taken at once, and
a tentative one only ever lengthens it. Configured rates stay a ceiling: the rates in force are
the configured AND the learned (`Rates.and_`). With `CATFACTS_RATE_LIMIT=auto` nothing is known
at first, so requests go paced, never in a burst, and the first announcement is taken as it is.
A configured rate refused without a word is paced too, from its own rate a second.
"""

from __future__ import annotations

import logging

from catfacts.rates import Rate, Rates
from catfacts.strategies.limited.pace import START, Pacer
from catfacts.strategies.limited.window_finders import WindowFinders
from catfacts.strategies.limited.windows import Answer
from catfacts.upstream.headers import Quota

__all__ = ["Answer", "RateLearner"]

log = logging.getLogger(__name__)

SHOWN_STEP = 1.05  # a pace shown (and shared) again once it rose this much; a fall at once


class RateLearner:
    """The rates in force: configured ones, and what the upstream's answers taught."""

    def __init__(self, configured: Rates | None, *, shared: bool = False) -> None:
        self.configured = configured
        self._shared = shared  # several workers learn together (Redis): see `Pacer`
        told = () if configured is None else configured.policies
        self.windows = WindowFinders(told, siblings=shared)  # `UpstreamQuota` reads it too
        self._now = 0.0  # the latest answer's time: the pacer's clock
        self._policies: tuple[Rate, ...] = ()
        self._pacer: Pacer | None = None
        self._shown_pace: float | None = None if configured else START
        self._heard = configured is not None  # with auto, the first announcement is taken as is
        self._looser: Rates | None = None  # announced looser, since `_since`
        self._since = 0.0
        self._said_nothing = False
        self.deduced = False  # the last policy heard had its window found, not announced

    @property
    def rates(self) -> Rates:
        """In force now: the configured rates and the learned policies and pace, all binding."""
        learned = Rates().and_(Rates(self._policies, self._shown_pace))
        return learned if self.configured is None else self.configured.and_(learned)

    def hear(self, answer: Answer) -> bool:
        """Learn from one answer (every one, timeouts too); True when `rates` changed."""
        before = self.rates
        self._now = answer.answered
        self.windows.hear(answer)
        quota = answer.quota
        if quota is not None:
            announced = self._announced(quota)
            if announced:
                deduced = not quota.policies and not quota.window
                self.deduced = deduced
                self._learn(announced, deduced=deduced and not answer.refused)
            elif quota.limit is None:
                self._pace_by(answer)
        return self.rates != before

    def adopt(self, rates: Rates) -> None:
        """Another worker learned `rates` (through Redis): take them as the learned state,
        keeping the evidence, so that only new evidence changes them (and is shared) again."""
        self._policies, self._looser = rates.policies, None
        self.windows.share(rates.policies)
        self._heard = self._heard or bool(rates.policies)
        self._shown_pace = rates.pace
        if rates.pace is None:
            self._pacer = None
        elif self._pacer is not None:
            self._pacer.adopt(rates.pace)

    def _announced(self, quota: Quota) -> tuple[Rate, ...]:
        """Every policy the answer states; a bare limit with the window found for it."""
        policies = tuple(Rate(limit, window) for limit, window in quota.policies if limit >= 1)
        if policies or quota.limit is None or quota.limit < 1:
            return policies
        if quota.window:
            return (Rate(quota.limit, quota.window),)
        window = self._window_for(quota.limit)
        return (Rate(quota.limit, window, guess=not self.windows.certain),)

    def _window_for(self, limit: int) -> float:
        """The window found for a bare `limit`; a guess only ever lengthens what is known."""
        window = self.windows.window or 1.0
        if self.windows.certain:
            return window
        return max([window, *(r.window for r in self._policies if r.limit == limit)])

    def _learn(self, policies: tuple[Rate, ...], *, deduced: bool) -> None:
        candidate, current = Rates().and_(Rates(policies)), Rates(self._policies)
        if not self._heard:
            self._heard, self._pacer, self._shown_pace = True, None, None
            self._policies = candidate.policies
            log.info("the upstream announces %s: running at that", candidate)
            return
        if candidate == current:
            self._looser = None
            return
        if deduced and self._shared and self._found_elsewhere(candidate, current):
            return
        stricter = current.and_(candidate)
        if stricter == candidate or (deduced and self._found_shorter(candidate, current)):
            self._policies, self._looser = candidate.policies, None  # stricter, or surely right
            return
        self._policies = stricter.policies  # the stricter part now, the rest after a window
        self._maybe_loosen(candidate)

    def _found_elsewhere(self, candidate: Rates, current: Rates) -> bool:
        """Shared, a window found no longer (by this worker or another) stands against a guess
        or a longer bound: each worker's answers are only its share of the window, so the
        shortest sure bound is the best, and a worker that undid it would be undone in turn.
        A refusal is not deduced (see `hear`): a window found too short gives way to it."""
        found = {rate.limit: rate.window for rate in current.policies if not rate.guess}
        return all(
            rate.limit in found and (rate.guess or found[rate.limit] <= rate.window)
            for rate in candidate.policies
        )

    def _found_shorter(self, candidate: Rates, current: Rates) -> bool:
        """Only the window changed, as found for certain: no guess, no announcement to doubt."""
        limits = {rate.limit for rate in candidate.policies}
        return self.windows.certain and limits == {rate.limit for rate in current.policies}

    def _maybe_loosen(self, candidate: Rates) -> None:
        if self._looser != candidate:
            self._looser, self._since = candidate, self._now
            return
        if self._now - self._since >= (Rates(self._policies).longest_window or 1.0):
            self._policies, self._looser = candidate.policies, None

    def _pace_by(self, answer: Answer) -> None:
        """An answer that announces nothing: the pacer's evidence, once pacing is needed."""
        if self._pacer is None:
            if self._heard and not answer.refused:
                return  # the configured or announced rates stand while nothing is refused
            self._pacer = self._new_pacer()
        if self._pacer.hear(answer.sent, answer.refused):
            self._show(self._pacer.pace)

    def _new_pacer(self) -> Pacer:
        """Nothing known: slow start from the cautious pace. Refused without a word: from the
        pace shown, else the tightest rate in force a second, never faster than that rate."""
        searching = not self._heard
        tightest = self.rates.tightest
        pace = self._shown_pace or (tightest.per_second if tightest else START)
        if searching and not self._said_nothing:
            self._said_nothing = True
            log.warning("the upstream announces no rate limit: pacing from %.3g/s", pace)
        elif not searching:
            log.warning("the upstream refused without a word: pacing from %.3g/s", pace)
        self._shown_pace = pace
        ceiling = tightest.per_second if tightest and not searching else None
        return Pacer(
            pace,
            slow_start=searching,
            ceiling=ceiling,
            shared=self._shared,
            clock=lambda: self._now,
        )

    def _show(self, pace: float) -> None:
        """Show a pace that fell at once, one that rose only by a step: not a change a request."""
        shown = self._shown_pace
        if shown is None or pace < shown or pace >= shown * SHOWN_STEP:
            self._shown_pace = pace
