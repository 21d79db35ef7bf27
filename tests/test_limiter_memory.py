"""The in-process limiter, driven by a fake clock: exact, and fast."""

from __future__ import annotations

import asyncio
import heapq
import random

import pytest

from catfacts.emulator.process import max_in_any_window
from catfacts.limiter import PAUSED, WINDOW, Slot, Wait
from catfacts.limiter.memory import MemoryLimiter
from catfacts.rates import Rate, Rates


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limiter(clock: FakeClock, text: str = "3/second") -> MemoryLimiter:
    return MemoryLimiter(Rates.parse(text), clock)


def take(limiter: MemoryLimiter) -> Slot:
    answer = limiter.try_acquire_now()
    assert isinstance(answer, Slot), answer
    return answer


def test_it_grants_the_limit_at_once_then_waits_a_window_while_all_are_in_flight(
    clock: FakeClock,
) -> None:
    slots = limiter(clock)
    for _ in range(3):
        take(slots)
    assert slots.try_acquire_now() == Wait(1.0, WINDOW)


def test_a_slot_frees_exactly_one_window_after_its_answer(clock: FakeClock) -> None:
    slots = limiter(clock)
    first = take(slots)
    take(slots)
    take(slots)
    clock.now = 0.25
    asyncio.run(slots.release(first))
    clock.now = 1.0
    answer = slots.try_acquire_now()
    assert isinstance(answer, Wait)
    assert answer.reason == WINDOW
    assert answer.seconds == pytest.approx(0.25)
    clock.now = 1.25
    take(slots)


def test_a_cancelled_slot_is_free_at_once(clock: FakeClock) -> None:
    slots = limiter(clock, "1/second")
    asyncio.run(slots.cancel(take(slots)))
    take(slots)


def test_a_pause_holds_every_slot_until_it_ends(clock: FakeClock) -> None:
    slots = limiter(clock)
    asyncio.run(slots.pause(2.0))
    clock.now = 0.5
    assert slots.try_acquire_now() == Wait(1.5, PAUSED)
    clock.now = 2.0
    take(slots)


def test_a_lower_limit_takes_effect_on_slots_already_released(clock: FakeClock) -> None:
    slots = limiter(clock, "4/second")

    async def scenario() -> None:
        for slot in [take(slots) for _ in range(4)]:
            await slots.release(slot)
        await slots.set_rates(Rates((Rate(2, 1.0),)))

    asyncio.run(scenario())
    clock.now = 5.0
    take(slots)
    take(slots)
    assert isinstance(slots.try_acquire_now(), Wait)


@pytest.mark.parametrize("seed", range(20))
def test_no_window_ever_sees_more_than_the_limit_arrive_whatever_the_delays(seed: int) -> None:
    """Simulate sends, arrivals and answers with random network delays, on a fake clock."""
    rng = random.Random(seed)
    clock = FakeClock()
    rate = Rates.parse("5/second")
    slots = MemoryLimiter(rate, clock)
    answers: list[tuple[float, int, Slot]] = []  # a heap of (answered at, tie-break, slot)
    arrivals: list[float] = []

    async def simulate() -> None:
        while len(arrivals) < 300:
            answer = slots.try_acquire_now()
            if isinstance(answer, Slot):
                there, back = rng.uniform(0, 0.4), rng.uniform(0, 0.4)
                arrivals.append(clock.now + there)
                heapq.heappush(answers, (clock.now + there + back, len(arrivals), answer))
                continue
            clock.now = min(clock.now + answer.seconds, answers[0][0] if answers else 1e9)
            while answers and answers[0][0] <= clock.now:
                await slots.release(heapq.heappop(answers)[2])

    asyncio.run(simulate())
    arrivals.sort()
    [policy] = rate.policies
    assert max_in_any_window([(t, 200) for t in arrivals], policy.window) == policy.limit
