"""Properties, with hypothesis: the rate notation parser and the limiter's invariant.

The header parsers have theirs in test_headers.py and test_learning.py.
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catfacts.emulator.process import max_in_any_window
from catfacts.limiter import Slot, Wait
from catfacts.limiter.memory import MemoryLimiter
from catfacts.rates import Rate, Rates

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@given(st.text(max_size=60))
def test_any_text_parses_to_a_usable_rate_or_a_clear_value_error(text: str) -> None:
    try:
        rate = Rate.parse(text)
    except ValueError as error:
        assert str(error)
        return
    assert rate.limit >= 1
    assert rate.window > 0


@given(
    limit=st.integers(1, 10**6),
    count=st.integers(1, 1000),
    unit=st.sampled_from(sorted(UNITS)),
    spelling=st.sampled_from(["{l}/{u}", "{l} per {u}", "{l} per {c} {u}s", "{l}/{c} {u}s"]),
)
def test_every_spelling_of_the_notation_parses_exactly(
    limit: int, count: int, unit: str, spelling: str
) -> None:
    text = spelling.format(l=limit, c=count, u=unit)
    rate = Rate.parse(text)
    assert rate.limit == limit
    assert rate.window == (count if "{c}" in spelling else 1) * UNITS[unit]


@pytest.mark.parametrize("text", ["0/second", "-1/second", "", "lots", "1/fortnight", "1e3/second"])
def test_nonsense_and_zero_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Rate.parse(text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Request:
    wants_at: float  # when the caller asks for a slot
    there: float  # network delay to the upstream
    back: float  # and back, unless it timed out
    timed_out: bool  # no answer: the slot is released at the time-out
    unused: bool  # the slot was taken but nothing was sent (a cancel)


TIMEOUT = 0.5
requests = st.builds(
    Request,
    wants_at=st.floats(0, 5),
    there=st.floats(0, TIMEOUT),
    back=st.floats(0, TIMEOUT),
    timed_out=st.booleans(),
    unused=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 6),
    window=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
    demand=st.lists(requests, min_size=1, max_size=60),
    pauses=st.lists(st.tuples(st.floats(0, 5), st.floats(0.01, 2)), max_size=3),
)
def test_never_more_than_l_arrive_in_any_window_whatever_the_arrivals_delays_and_timeouts(
    limit: int, window: float, demand: list[Request], pauses: list[tuple[float, float]]
) -> None:
    clock = FakeClock()
    slots = MemoryLimiter(Rates((Rate(limit, window),)), clock)
    waiting = sorted(demand, key=lambda r: r.wants_at)
    pending_pauses = sorted(pauses)
    releases: list[tuple[float, int, Slot, bool]] = []  # (at, tie-break, slot, used)
    arrivals: list[float] = []

    async def simulate() -> None:
        served = 0
        while served < len(demand):
            while pending_pauses and pending_pauses[0][0] <= clock.now:
                await slots.pause(pending_pauses.pop(0)[1])
            while releases and releases[0][0] <= clock.now:
                _, _, slot, used = heapq.heappop(releases)
                await (slots.release(slot) if used else slots.cancel(slot))
            wait: Wait | None = None
            while waiting and waiting[0].wants_at <= clock.now:
                answer = slots.try_acquire_now()
                if isinstance(answer, Wait):
                    wait = answer
                    break
                request = waiting.pop(0)
                served += 1
                if request.unused:
                    heapq.heappush(releases, (clock.now, served, answer, False))
                    continue
                arrivals.append(clock.now + request.there)
                answered = TIMEOUT if request.timed_out else request.there + request.back
                heapq.heappush(releases, (clock.now + answered, served, answer, True))
            times = [t for t in (releases[0][0] if releases else None,) if t is not None]
            times += [waiting[0].wants_at] if waiting and wait is None else []
            times += [clock.now + wait.seconds] if wait is not None else []
            times += [pending_pauses[0][0]] if pending_pauses else []
            if not times:
                break
            clock.now = max(clock.now, min(times))

    asyncio.run(simulate())
    assert max_in_any_window([(t, 200) for t in arrivals], window) <= limit
