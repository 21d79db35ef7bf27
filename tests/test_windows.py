"""WindowFinder: the upstream's window length, bracketed from the timing of its answers."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catfacts.rates import Rate
from catfacts.strategies.limited.window_finders import WindowFinders
from catfacts.strategies.limited.windows import SNAP, Answer, WindowFinder
from catfacts.upstream.headers import Quota


def ok(sent: float, answered: float, remaining: int, limit: int = 20, **said: float) -> Answer:
    return Answer(Quota(limit=limit, remaining=remaining, **said), sent, answered)  # type: ignore[arg-type]


def refused(sent: float, answered: float, retry_after: int, limit: int = 20) -> Answer:
    return Answer(Quota(limit=limit, remaining=0, retry_after=retry_after), sent, answered, True)


def hear(finder: WindowFinder, *answers: Answer) -> WindowFinder:
    for answer in answers:
        finder.hear(answer)
    return finder


def test_nothing_heard_nothing_known() -> None:
    finder = WindowFinder()
    assert finder.window is None
    assert not finder.certain
    assert finder.ends_by() is None


def test_a_first_hit_and_its_reset_pin_the_window() -> None:
    # Counted first (19 of 20 left) between 0 and 0.01; its reset in 1 s, rounded down.
    finder = hear(WindowFinder(), ok(0.0, 0.01, 19, reset_in=0.0, reset_slack=1.0))
    assert finder.bounds == (0.0, 1.01)
    assert (finder.window, finder.exact) == (1.0, True)


def test_a_refill_ends_one_window_and_starts_the_next() -> None:
    # Laravel: no reset on a 200. Our first hit at 0, a burst, then a probe at 1.005 that finds
    # the count refilled: the window ended between the last request counted and that answer.
    finder = hear(
        WindowFinder(),
        ok(0.0, 0.005, 19),
        *(ok(0.006, 0.012, remaining) for remaining in range(18, -1, -1)),
    )
    assert (finder.window, finder.certain) == (2.0, False)  # a guess: a second more than seen
    hear(finder, ok(1.005, 1.011, 19))
    assert finder.bounds[1] < 1.02
    assert (finder.window, finder.exact) == (1.0, True)
    assert finder.ends_by() == 1.011 + 1.0  # the new window began by that answer


def test_when_another_client_began_the_window_the_guess_is_tentative() -> None:
    finder = hear(WindowFinder(), ok(0.0, 0.005, 12), ok(0.006, 0.011, 0))
    assert finder.window == 2.0  # a second more than it lasted: what the next look may find
    assert not finder.certain


def test_a_refusal_where_the_guess_ended_the_window_doubles_the_next_guess() -> None:
    finder = hear(WindowFinder(), ok(0.0, 0.005, 12), ok(0.006, 0.011, 0))
    # Probed when a 1 s window would have ended: refused, Retry-After 1 (rounded down), so the
    # window lasted at least 2 s if the refusal was its own (another window may have opened and
    # filled meanwhile: the bracket stays as it was, only the guess grows).
    hear(finder, refused(1.005, 1.01, retry_after=1))
    assert math.isinf(finder.bounds[1])
    assert finder.window == 5.0  # twice the 2 s it lasted, rounded up to a common window
    assert not finder.certain


def test_an_announced_window_is_the_window_and_times_the_ends() -> None:
    said = {"window": 10.0, "policies": ((5, 10.0),)}
    finder = hear(WindowFinder(), ok(0.0, 0.01, 4, limit=5, **said))  # type: ignore[arg-type]
    assert (finder.window, finder.exact, finder.certain) == (10.0, True, True)
    assert finder.ends_by() == 10.01


def test_a_configured_window_stands_until_the_answers_contradict_it() -> None:
    finder = hear(WindowFinder([Rate(20, 2.0)]), ok(0.0, 0.005, 12), ok(0.006, 0.011, 0))
    assert (finder.window, finder.certain, finder.exact) == (2.0, True, True)
    shorter = hear(WindowFinder([Rate(20, 5.0)]), ok(0.0, 0.005, 19), ok(1.005, 1.01, 19))
    assert shorter.window == 1.0  # it began at 0 and had ended by 1.01: not 5 s
    longer = hear(WindowFinder([Rate(20, 2.0)]), ok(0.0, 0.01, 19, reset_in=4.0))
    assert longer.window == 5.0  # begun by 0.01, it ends 4 s later at the earliest: not 2 s
    lowered = hear(WindowFinder([Rate(100, 60.0)]), ok(0.0, 0.005, 12))
    assert lowered.window == 60.0  # the only one configured: a limit lowered is likely its own
    several = [Rate(100, 60.0), Rate(5, 1.0)]
    other_limit = hear(WindowFinder(several), ok(0.0, 0.005, 12))
    assert other_limit.window == 2.0  # configured rates for other limits say nothing


def test_while_searching_one_request_looks_just_past_each_whole_second() -> None:
    finder = hear(WindowFinder(), ok(0.0, 0.005, 19))  # our first hit: it began by 0.005
    assert finder.searching and finder.start_known
    assert finder.ends_by() == pytest.approx(0.005 + 1.05)
    hear(finder, ok(1.055, 1.06, 18))  # still open after a second: W is 2 or more
    assert finder.ends_by() == pytest.approx(0.005 + 2.05)
    hear(finder, ok(2.055, 2.06, 19))  # ended by then: refilled
    assert (finder.exact, finder.window, finder.searching) == (True, 2.0, False)


def test_a_window_another_client_began_is_searched_from_our_first_answer() -> None:
    finder = hear(WindowFinder(), ok(0.0, 0.005, 12))
    assert finder.searching and not finder.start_known
    assert finder.ends_by() == pytest.approx(0.005 + 1.05)


def test_two_whole_numbers_left_the_shorter_is_tried_first() -> None:
    # Another client began each window: the brackets leave 1 s or 2 s.
    finder = hear(WindowFinder(), ok(0.0, 0.005, 9), ok(0.3, 0.305, 8), ok(1.3, 1.305, 9))
    hear(finder, ok(1.306, 1.31, 8), ok(2.31, 2.315, 9))
    low, high = finder.bounds
    assert [w for w in range(1, 4) if low - SNAP <= w <= high + SNAP] == [1, 2]
    assert finder.window == 2.0  # surely no shorter than W
    assert finder.ends_by() == 2.315 + 1.0  # but the next probe tries 1 s
    assert finder.ends_by(surely=True) == 2.315 + 2.0


def test_two_whole_numbers_left_a_look_at_the_shorter_is_still_to_come() -> None:
    # Our first hit at 0, then the next window's at 2.0: 1 s or 2 s. Spent to the last, the
    # window would let the next look go only at 2 s, where 1 s can never be seen.
    finder = hear(WindowFinder(), ok(0.0, 0.005, 19), ok(0.006, 0.01, 18), ok(2.0, 2.005, 19))
    assert (finder.certain, finder.exact, finder.looking) == (True, False, True)
    hear(finder, ok(3.0, 3.005, 19))  # refilled a second after that window began: 1 s
    assert (finder.window, finder.exact, finder.looking) == (1.0, True, False)


def test_a_window_another_worker_found_stands_against_our_share_of_the_answers() -> None:
    # Our share of three windows of 1 s: no refill shows (others spent the counts down), so we
    # read one window of at least 2 s. Another worker bounded it to 1 s, a sound upper bound.
    finder = hear(WindowFinder(), ok(0.0, 0.005, 9, limit=10), ok(1.1, 1.105, 6, limit=10))
    hear(finder, ok(2.2, 2.205, 3, limit=10))
    assert finder.bounds[0] > 2.0 and finder.window == 5.0  # a guess, up to a common window
    finder.share([Rate(10, 1.0)])
    assert (finder.window, finder.exact, finder.looking) == (1.0, True, False)
    finder.share([Rate(10, 1.0, guess=True)])  # a guess is not believed
    assert finder.window == 5.0


def test_answers_overtaken_across_a_refill_are_not_misread() -> None:
    finder = hear(WindowFinder(), ok(0.0, 0.005, 19), ok(0.006, 0.011, 0))
    hear(finder, ok(1.01, 1.015, 19))  # refill: a new window, begun between 0.006 and 1.015
    # An old request, answered late: it may belong to either window.
    hear(finder, ok(0.007, 1.02, 0))
    hear(finder, ok(1.03, 1.035, 17))  # 17 > 0, but after a new window: no second refill
    assert finder.bounds[1] >= 1.0


def test_a_new_limit_is_another_policy_to_find() -> None:
    finder = hear(WindowFinder(), ok(0.0, 0.005, 19), ok(1.01, 1.015, 19))
    assert finder.exact
    hear(finder, ok(1.02, 1.025, 8, limit=10))
    assert finder.bounds == (0.0, math.inf)


@dataclass
class _Throttle:
    """Laravel's fixed window: it opens at the first counted hit; a refusal counts nothing."""

    limit: int
    window: float
    ends: float = -math.inf
    hits: int = 0

    def hit(self, now: float) -> tuple[bool, int, float]:
        if now >= self.ends:
            self.ends, self.hits = now + self.window, 0
        allowed = self.hits < self.limit
        self.hits += allowed
        return allowed, self.limit - self.hits, self.ends - now


def _said(dialect: str, limit: int, allowed: bool, left: int, resets_in: float) -> Quota:
    """What each dialect says, rounded as it rounds (the wall clock's fraction is 0.37)."""
    if dialect == "github":  # the reset in epoch seconds, rounded down, on every answer
        return Quota(limit=limit, remaining=left, reset_in=math.floor(0.37 + resets_in) - 0.37)
    if allowed:
        return Quota(limit=limit, remaining=left)
    return Quota(limit=limit, remaining=0, retry_after=math.floor(resets_in))


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    window=st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 60.0]),
    limit=st.integers(1, 30),
    dialect=st.sampled_from(["laravel", "github"]),
    others=st.sampled_from([0.0, 0.2]),
)
def test_the_window_is_never_taken_shorter_than_it_is(
    seed: int, window: float, limit: int, dialect: str, others: float
) -> None:
    """Whatever the timing, the concurrency, the reordering and other clients' hits: the upper
    bound holds W, so a certain estimate is never shorter than W (the sliding judge's safety).
    (The lower bound is a best effort: a refusal whose siblings' answers are still on their
    way, in a window begun since, can stretch it; then W is taken too long, never too short.)"""
    rng = random.Random(seed)
    throttle, finder = _Throttle(limit, window), WindowFinder()
    events: list[tuple[float, int, str, float]] = []  # (time, order, kind, sent)
    now = 0.0
    for order in range(200):
        now += rng.choice([0.0, 0.001, rng.uniform(0, window / limit), rng.uniform(0, window)])
        kind = "other" if rng.random() < others else "ours"
        events.append((now + rng.uniform(0, 0.02), order, kind, now))
    answers: list[tuple[float, Answer]] = []
    for arrival, _, kind, sent in sorted(events):
        allowed, left, resets_in = throttle.hit(arrival)
        if kind == "ours":
            answered = arrival + rng.uniform(0, 0.02)
            quota = _said(dialect, limit, allowed, max(left, 0), resets_in)
            answers.append((answered, Answer(quota, sent, answered, not allowed)))
    for _, answer in sorted(answers, key=lambda pair: pair[0]):
        finder.hear(answer)
        estimate = finder.window
        assert finder.bounds[1] >= window - SNAP
        assert estimate is not None
        if finder.certain:
            assert estimate >= window - SNAP


def test_a_limit_named_without_its_count_teaches_nothing_and_breaks_nothing() -> None:
    """`X-RateLimit-Limit` alone (or a `Remaining` that could not be read), with two configured
    limits: the finders hear it and go on, instead of failing the call."""
    finders = WindowFinders([Rate(10, 1.0), Rate(100, 60.0)])
    finders.hear(ok(0.0, 0.005, 9, limit=10))
    finders.hear(Answer(Quota(limit=100, remaining=None), 0.01, 0.015))
    finders.hear(ok(0.02, 0.025, 97, limit=100))
