"""What the answers of one upstream window say of it, as `WindowFinder` reads them.

Each answer brackets its window's start and end between our send and its arrival (the upstream
counts a request somewhere in between); these are the readings one answer allows, kept apart from
the finder so that what is read from an answer and what is concluded from many stay separate.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from catfacts.upstream.headers import Quota

KEPT = 64  # answers kept per window, to see a refill


@dataclass(frozen=True)
class Answer:
    """One answer, as the dispatcher saw it; `quota` is None when none came (a timeout)."""

    quota: Quota | None
    sent: float  # event-loop time the request was sent
    answered: float  # event-loop time its answer (or failure) came back
    refused: bool = False  # a 429


@dataclass
class WindowSeen:
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
        end = reset_end(answer)
        return answer.sent < self.start[0] or (end is not None and end[1] < self.end[0])

    def narrow(self, start: tuple[float, float] | None, end: tuple[float, float] | None) -> None:
        if start is not None:
            self.start = (max(self.start[0], start[0]), min(self.start[1], start[1]))
        if end is not None:
            self.end = (max(self.end[0], end[0]), min(self.end[1], end[1]))

    def bounds(self) -> tuple[float, float]:
        """What this window says of W: (at least, at most)."""
        return max(self.end[0] - self.start[1], 0.0), self.end[1] - self.start[0]


def reset_end(answer: Answer) -> tuple[float, float] | None:
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


def first_hit(answer: Answer) -> bool:
    """Whether `answer` was counted first in its window: L - 1 remain after it."""
    quota = answer.quota
    return (
        not answer.refused
        and quota is not None
        and quota.limit is not None
        and quota.remaining == quota.limit - 1
    )


def refill_after(window: WindowSeen, answer: Answer) -> Answer | None:
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
