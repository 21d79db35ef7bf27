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
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from catfacts.rates import Rate
from catfacts.upstream.headers import Quota

log = logging.getLogger(__name__)

COMMON_WINDOWS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 86400)
SNAP = 0.005  # seconds: a whole number this close to the bracket is taken as in it
KEPT = 64  # answers kept per window, to see a refill
SEARCH = (1.05, 2.05, 3.05)  # seconds after a window's start to look whether it ended, searching


@dataclass(frozen=True)
class Answer:
    """One answer, as the dispatcher saw it; `quota` is None when none came (a timeout)."""

    quota: Quota | None
    sent: float  # event-loop time the request was sent
    answered: float  # event-loop time its answer (or failure) came back
    refused: bool = False  # a 429


@dataclass
class _Window:
    """What is known of one upstream window: brackets for its start and end, and our answers."""

    start: tuple[float, float] = (-math.inf, math.inf)
    end: tuple[float, float] = (-math.inf, math.inf)
    answers: deque[Answer] = field(default_factory=lambda: deque(maxlen=KEPT))
    follows: bool = False  # opened after another: an answer may still belong to that one

    def not_older(self, answer: Answer) -> bool:
        """Whether `answer` was counted in this window or a later one: sent after it began."""
        return not self.follows or answer.sent >= self.start[1]

    def older(self, answer: Answer) -> bool:
        """Whether `answer` may be an earlier window's (sent before this began, or resetting
        before this can end): it is left out rather than misread."""
        end = _end(answer)
        return answer.sent < self.start[0] or (end is not None and end[1] < self.end[0])

    def narrow(self, start: tuple[float, float] | None, end: tuple[float, float] | None) -> None:
        if start is not None:
            self.start = (max(self.start[0], start[0]), min(self.start[1], start[1]))
        if end is not None:
            self.end = (max(self.end[0], end[0]), min(self.end[1], end[1]))

    def bounds(self) -> tuple[float, float]:
        """What this window says of W: (at least, at most)."""
        return max(self.end[0] - self.start[1], 0.0), self.end[1] - self.start[0]


class WindowFinder:
    """Brackets the upstream's window length W from the answers it hears (see the module)."""

    def __init__(self, told: Iterable[Rate] = ()) -> None:
        self._told = tuple(told)  # configured rates: a window for the same limit is believed
        self._shared: tuple[Rate, ...] = ()  # windows other workers found: believed the same
        self._limit: int | None = None
        self._announced: float | None = None
        self._lo, self._hi = 0.0, math.inf
        self._current: _Window | None = None
        self._at_least = 0.0  # a tentative guess proved short: the next is twice as long

    @property
    def window(self) -> float | None:
        """The best estimate of W; None until a limit was heard."""
        if self._announced is not None:
            return self._announced
        if self._limit is None:
            return None
        told = self._told_window()
        if told is not None:
            return told
        if math.isinf(self._hi) and self._at_least:
            return _tentative(max(self._lo, self._at_least))
        if math.isinf(self._hi):  # a second more than it lasted: what the next look may find
            return float(max(math.ceil(self._lo - SNAP), 1) + 1)
        # W is whole seconds and no longer than the (sound) upper bound: a lower bound that
        # leaves no whole number was stretched (see `_place`) and gives way.
        return float(max(math.floor(self._hi + SNAP), 1))

    @property
    def exact(self) -> bool:
        """W known: announced, the one whole number in the bracket, or configured and allowed."""
        told = self._told_window() is not None
        return self._announced is not None or len(self._whole()) == 1 or told

    @property
    def certain(self) -> bool:
        """`window` surely no shorter than W: announced, bounded above, or configured."""
        told = self._told_window()
        return self._announced is not None or not math.isinf(self._hi) or told is not None

    @property
    def bounds(self) -> tuple[float, float]:
        """(at least, at most) for W, from what was seen."""
        return self._lo, self._hi

    def _told_window(self) -> float | None:
        """A configured window that the bracket allows and does not pin: the one for this
        limit, or the only one configured (a limit announced lower than it is likely its own)."""
        if self._announced is not None or len(self._whole()) == 1:
            return None
        mine = [rate for rate in (*self._told, *self._shared) if rate.limit == self._limit]
        told = mine or (list(self._told) if len(self._told) == 1 else [])
        fits = [r.window for r in told if self._lo - SNAP <= r.window <= self._hi + SNAP]
        return max(fits, default=None)

    def share(self, found: Iterable[Rate]) -> None:
        """The windows other workers found (through Redis), each surely no shorter than the
        upstream's: believed as a configured one is, while the answers heard here allow it.
        Without them each worker searches alone, and its guesses undo what another found."""
        self._shared = tuple(rate for rate in found if not rate.guess)

    def _whole(self) -> range:
        """The whole seconds in the bracket."""
        top = COMMON_WINDOWS[-1] if math.isinf(self._hi) else math.floor(self._hi + SNAP)
        return range(max(math.ceil(self._lo - SNAP), 1), top + 1)

    def ends_by(self, *, surely: bool = False) -> float | None:
        """When the current window ends: its bracketed end, or its latest start plus the next
        look (`_guess`). `surely`: by the answers alone, plus an announced window or the upper
        bound, never a configured or guessed one; None if they bound nothing."""
        current = self._current
        if surely:
            found = self._announced or self._hi
            window: float | None = found if math.isinf(found) else float(math.floor(found + SNAP))
        else:
            window = self._guess()
        if current is None or window is None:
            return None
        latest = min(current.end[1], current.start[1] + window)
        return None if math.isinf(latest) else latest

    @property
    def searching(self) -> bool:
        return self._limit is not None and not self.certain  # a limit heard, W not bounded

    @property
    def start_known(self) -> bool:
        """Whether the current window's start is bracketed from below: we saw it begin."""
        return self._current is not None and not math.isinf(self._current.start[0])

    def _guess(self) -> float | None:
        """When to look whether the current window ended, from its latest start: while
        searching, the next of `SEARCH` past what it lasted (then the tentative window); with
        two whole numbers left, the shorter, which one request settles; else `window`."""
        current = self._current
        if self.searching and current is not None:
            lasted = max(self._lo, current.end[0] - current.start[1])
            step = next((step for step in SEARCH if step > lasted + SNAP), None)
            return self.window if step is None else step
        whole = self._whole()
        if self.exact or math.isinf(self._hi) or len(whole) != 2:
            return self.window
        return float(whole[0])

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

    def _search(self, current: _Window, refusal: Answer) -> None:
        """Refused where the guess said the window had ended: double the guess (one 429 per
        doubling, not per common window). Only the guess rests on reading the refusal as the
        current window's, never the bracket."""
        guess = self.window or 0.0
        end = _end(refusal)
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

    def _starts_anew(self, current: _Window, answer: Answer) -> bool:
        """Whether `answer` was counted in a later window than `current`."""
        end = _end(answer)
        if end is not None and end[0] > current.end[1]:
            return True
        if answer.sent >= min(current.end[1], current.start[1] + (self._announced or self._hi)):
            return True  # sent after the window had surely ended
        if answer.refused:
            return False
        return (_first_hit(answer) and answer.sent > current.start[1]) or (
            _refill_after(current, answer) is not None
        )

    def _open(self, previous: _Window | None, answer: Answer) -> _Window:
        """A new window, begun by `answer`'s count at the latest: after the last one ended, and
        after the request counted in it last that proved the refill. The one before ended
        before `answer` was counted."""
        window = _Window(follows=previous is not None)
        self._current = window
        if previous is not None:
            previous.narrow(None, (-math.inf, answer.answered))
            self._tighten(previous)
            before = _refill_after(previous, answer)
            if before is not None:
                window.narrow((before.sent, math.inf), None)
        if _first_hit(answer):
            window.narrow((answer.sent, answer.answered), None)
        window.narrow((-math.inf, answer.answered), _end(answer))
        return window

    def _place(self, window: _Window, answer: Answer) -> None:
        """Narrow `window` by an answer counted (or refused) in it: begun before the answer,
        open at the send, ending as the reset says, begun by a first hit. From one that may be
        the last window's, no reset nor first hit; one that was a later window's can only
        stretch the lower bound."""
        if window.not_older(answer):
            first = _first_hit(answer)
            if first and answer.sent <= window.start[1] and answer.answered >= window.start[0]:
                window.narrow((answer.sent, answer.answered), None)
            window.narrow(None, _end(answer))
        window.narrow((-math.inf, answer.answered), (answer.sent, math.inf))
        window.answers.append(answer)

    def _tighten(self, window: _Window) -> None:
        lo, hi = window.bounds()
        lo, hi = max(self._lo, lo), min(self._hi, hi)
        if lo > hi + 2 * SNAP:
            # The answers contradict each other (a sliding window, clocks apart): start again
            # from this window's own evidence rather than keep a bracket that holds nothing.
            log.info("the upstream's windows do not add up: finding its window anew")
            lo, hi = window.bounds()
        self._lo, self._hi = lo, hi


def _end(answer: Answer) -> tuple[float, float] | None:
    """When the window of `answer` ends, from its reset, counted from send to answer. A
    refusal's `Retry-After` first: Laravel's epoch reset beside it (this whole second plus
    `Retry-After`) may be 2 s early, where GitHub's alone is the reset rounded down."""
    quota = answer.quota
    if quota is None:
        return None
    span = (quota.retry_span if answer.refused else None) or quota.reset_span
    if span is None:
        return None
    return answer.sent + span[0], answer.answered + span[1]


def _first_hit(answer: Answer) -> bool:
    """Whether `answer` was counted first in its window: L - 1 remain after it."""
    quota = answer.quota
    return (
        not answer.refused
        and quota is not None
        and quota.limit is not None
        and quota.remaining == quota.limit - 1
    )


def _refill_after(window: _Window, answer: Answer) -> Answer | None:
    """The latest-sent answer of `window`, surely counted before `answer`, that proves a refill
    since (see the module); None if none. A refusal proves none: its window may be any."""
    quota = answer.quota
    if answer.refused or quota is None or quota.remaining is None:
        return None
    earlier = [
        past
        for past in window.answers
        if past.answered <= answer.sent
        and window.not_older(past)
        and past.quota is not None
        and past.quota.remaining is not None
        and (past.refused or past.quota.remaining <= quota.remaining)
    ]
    return max(earlier, key=lambda past: past.sent, default=None)


def _tentative(at_least: float) -> float:
    """The common window just above what is known, or twice the bound past the longest."""
    return float(next((w for w in COMMON_WINDOWS if w >= at_least - SNAP), 2 * at_least))
