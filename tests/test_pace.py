"""Pacer: the pace for an upstream that says nothing, found from its refusals, in simulation.

The simulation runs in process on a virtual clock: requests go no closer than the pace (as the
limiter spaces them), reach the upstream after a little network jitter, are answered 5 ms later,
and a refused one is sent again after a pause of one interval, as the dispatcher does.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from catfacts.rates import Rate
from catfacts.strategies.limited.pace import DECREASE, START, Pacer, as_rate

LATENCY = 0.005
CALL = 200  # facts a call
IDEAL = CALL / 20  # seconds, at exactly 20 a second


@dataclass
class LeakyBucket:
    """nginx `limit_req` with burst 0, integer for integer: 1/r apart, from the last accepted."""

    per_second: int
    excess: int = 0
    last: int | None = None  # milliseconds

    def hit(self, now: float) -> bool:
        ms = round(now * 1_000_000) // 1000
        excess = 0
        if self.last is not None:
            leaked = self.per_second * 1000 * abs(ms - self.last) // 1000
            excess = max(self.excess - leaked + 1000, 0)
        if excess > 0:
            return False
        self.excess, self.last = excess, ms
        return True


@dataclass
class FixedWindow:
    """A fixed window without headers: L hits, from the first, until W later."""

    limit: int
    window: float
    ends: float = float("-inf")
    hits: int = 0

    def hit(self, now: float) -> bool:
        if now >= self.ends:
            self.ends, self.hits = now + self.window, 0
        if self.hits >= self.limit:
            return False
        self.hits += 1
        return True


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(order=True)
class _Event:
    at: float
    order: int
    kind: str = field(compare=False)
    sent: float = field(compare=False, default=0.0)
    accepted: bool = field(compare=False, default=False)


@dataclass
class Outcome:
    seconds: float
    sent: int
    refused: int


def simulate(
    upstream: Callable[[float], bool], pacer: Pacer, clock: Clock, n: int, rng: random.Random
) -> Outcome:
    """Fetch `n` facts from `clock.now` on, paced by `pacer`; what it took."""
    began, order = clock.now, itertools.count()
    events = [_Event(began, next(order), "try")]
    pending, done, sent, refused = n, 0, 0, 0
    next_send = paused_until = began
    while done < n:
        event = heapq.heappop(events)
        clock.now = event.at
        if event.kind == "try" and pending:
            go = max(next_send, paused_until)
            if go > event.at:
                heapq.heappush(events, _Event(go, next(order), "try"))
                continue
            pending, sent = pending - 1, sent + 1
            next_send = event.at + 1 / pacer.pace
            arrival = event.at + rng.uniform(0.0001, 0.0008)
            heapq.heappush(events, _Event(arrival, next(order), "arrive", event.at))
            heapq.heappush(events, _Event(next_send, next(order), "try"))
        elif event.kind == "arrive":
            answered = event.at + LATENCY + rng.uniform(0.0001, 0.0008)
            accepted = upstream(event.at)
            heapq.heappush(events, _Event(answered, next(order), "answer", event.sent, accepted))
        elif event.kind == "answer":
            pacer.hear(event.sent, refused=not event.accepted)
            if event.accepted:
                done += 1
                continue
            pending, refused = pending + 1, refused + 1
            paused_until = max(paused_until, event.at + 1 / pacer.pace)
            heapq.heappush(events, _Event(event.at, next(order), "try"))
    return Outcome(clock.now - began, sent, refused)


def two_calls(upstream: Callable[[float], bool], seed: int) -> tuple[Outcome, Outcome]:
    """A first call from a standing start, and a second one a second after it."""
    rng, clock = random.Random(seed), Clock()
    pacer = Pacer(START, clock=clock)
    first = simulate(upstream, pacer, clock, CALL, rng)
    clock.now += 1.0
    return first, simulate(upstream, pacer, clock, CALL, rng)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "upstream",
    [lambda: LeakyBucket(20).hit, lambda: FixedWindow(20, 1.0).hit],
    ids=["nginx limit_req 20r/s burst 0", "a fixed window of 20/second without headers"],
)
def test_it_finds_the_pace_fast_and_is_rarely_refused(
    upstream: Callable[[], Callable[[float], bool]], seed: int
) -> None:
    first, second = two_calls(upstream(), seed)
    assert first.seconds <= 2 * IDEAL
    assert second.seconds <= 1.3 * IDEAL
    assert (first.refused + second.refused) / (first.sent + second.sent) <= 0.05


def test_a_long_window_without_headers_costs_no_storm() -> None:
    rng, clock = random.Random(7), Clock()
    outcome = simulate(FixedWindow(100, 60.0).hit, Pacer(START, clock=clock), clock, 300, rng)
    assert outcome.refused / outcome.sent <= 0.1  # each full window: a back-off, not a storm
    assert outcome.seconds <= 4 * 60  # 100 a minute: three windows, and the search


def test_slow_start_doubles_once_a_pace_held_for_a_second() -> None:
    clock = Clock()
    pacer = Pacer(1.0, clock=clock)
    for sent in (0.0, 0.5):
        clock.now = sent + 0.01
        assert not pacer.hear(sent, refused=False)  # not a second at this pace yet
    clock.now = 1.01
    assert pacer.hear(1.0, refused=False)
    assert (pacer.pace, pacer.searching) == (2.0, True)


def test_the_first_refusal_ends_slow_start_at_the_last_pace_that_held() -> None:
    clock = Clock()
    pacer = Pacer(8.0, clock=clock)
    for step in range(1, 12):
        clock.now = step / 8 + 0.01
        pacer.hear(step / 8, refused=False)
    assert pacer.pace == 16.0
    clock.now = 1.6
    assert pacer.hear(1.59, refused=True)
    assert (pacer.pace, pacer.searching) == (8.0, False)


def test_a_refusal_of_a_request_sent_before_the_decrease_is_no_news() -> None:
    clock = Clock(10.0)
    pacer = Pacer(20.0, slow_start=False, clock=clock)
    assert not pacer.hear(9.99, refused=True)  # sent before pacing began
    clock.now = 10.02
    assert pacer.hear(10.01, refused=True)
    assert pacer.pace == pytest.approx(20 * DECREASE)
    clock.now = 10.03
    assert not pacer.hear(10.015, refused=True)  # already on its way at the old pace


def test_a_window_that_stays_full_is_backed_off_exponentially() -> None:
    clock = Clock()
    pacer = Pacer(20.0, slow_start=False, clock=clock)
    paces = []
    for step in range(6):
        clock.now = step * 0.1 + 0.01
        pacer.hear(step * 0.1, refused=True)
        paces.append(pacer.pace)
    assert paces[0] == pytest.approx(20 * DECREASE)
    assert paces[1] == paces[0]  # the second refusal in a row: the same event
    assert paces[2] == paces[1] / 2
    assert paces[4] == paces[2] / 4


def test_accepted_requests_add_to_the_pace_and_a_ceiling_caps_it() -> None:
    clock = Clock()
    pacer = Pacer(10.0, slow_start=False, ceiling=10.5, clock=clock)
    for step in range(100):
        clock.now = step / 10 + 0.01
        pacer.hear(step / 10, refused=False)
    assert pacer.pace == 10.5


def test_a_siblings_higher_pace_is_its_slow_start_and_a_lower_one_its_refusal() -> None:
    pacer = Pacer(clock=Clock())
    pacer.adopt(12.5)
    assert (pacer.pace, pacer.searching) == (12.5, True)  # doubled: search on from there
    pacer.adopt(10.0)
    assert (pacer.pace, pacer.searching) == (10.0, False)  # refused: search no more


def test_shared_each_worker_counts_the_time_a_pace_held_not_its_own_spacing() -> None:
    clock = Clock()
    alone, shared = Pacer(4.0, clock=clock), Pacer(4.0, shared=True, clock=clock)
    for step in range(1, 6):  # our requests a second apart: the siblings' came between
        clock.now = step * 1.0 + 0.01
        alone.hear(step * 1.0, refused=False)
        shared.hear(step * 1.0, refused=False)
    assert alone.pace == 4.0  # sent slower than the pace: no evidence that it holds
    assert shared.pace > 4.0


def test_a_pace_reads_as_a_rate() -> None:
    assert as_rate(20.0) == Rate(20, 1.0)
    assert as_rate(0.5) == Rate(1, 2.0)
