"""The contract every limiter keeps, run against the in-process one and the Redis one alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from catfacts.limiter import PACED, PAUSED, WINDOW, Limiter, Slot, Wait
from catfacts.limiter.memory import MemoryLimiter
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rate, Rates

RATE = Rates.parse("3 per 2 seconds")
WINDOW_S = RATE.policies[0].window
MakeLimiter = Callable[[], Limiter]


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> MakeLimiter:
    """Limiters of one kind; Redis ones share the test's private Redis."""
    if request.param == "memory":
        return lambda: MemoryLimiter(RATE)
    url = request.getfixturevalue("redis_url")
    return lambda: RedisLimiter(RATE, url, "http://upstream.test", lease=5.0)


async def take_all(limiter: Limiter) -> tuple[list[Slot], Wait]:
    slots = []
    while isinstance(answer := await limiter.try_acquire(), Slot):
        slots.append(answer)
    return slots, answer


def test_it_grants_the_limit_then_waits_a_window(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        slots, wait = await take_all(limiter)
        assert len(slots) == 3
        assert wait.reason == WINDOW
        assert 1.9 <= wait.seconds <= 2.0  # every slot in flight: none frees before now + W
        await limiter.close()

    asyncio.run(scenario())


def test_a_released_slot_frees_a_window_later_and_a_cancelled_one_at_once(
    make_limiter: MakeLimiter,
) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        (first, second, _), _ = await take_all(limiter)
        await limiter.release(first)
        wait = await limiter.try_acquire()
        assert isinstance(wait, Wait)
        assert 1.8 <= wait.seconds <= 2.0
        await limiter.cancel(second)
        assert isinstance(await limiter.try_acquire(), Slot)
        await limiter.close()

    asyncio.run(scenario())


def test_a_pause_holds_every_slot(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        await limiter.pause(3.0)
        wait = await limiter.try_acquire()
        assert isinstance(wait, Wait)
        assert wait.reason == PAUSED
        assert 2.8 <= wait.seconds <= 3.0
        await limiter.close()

    asyncio.run(scenario())


def test_a_lower_limit_grants_fewer(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        await limiter.set_rates(Rates((Rate(2, WINDOW_S),)))
        slots, _ = await take_all(limiter)
        assert len(slots) == 2
        await limiter.close()

    asyncio.run(scenario())


def test_acquire_sleeps_until_a_slot_frees_then_grants_it(make_limiter: MakeLimiter) -> None:
    async def scenario() -> float:
        limiter = make_limiter()
        await limiter.set_rates(Rates((Rate(1, WINDOW_S),)))
        await limiter.release(await limiter.acquire())
        loop = asyncio.get_running_loop()
        started = loop.time()
        await limiter.acquire()
        await limiter.close()
        return loop.time() - started

    waited = asyncio.run(scenario())
    assert 1.9 <= waited < 3.5  # the window (2 s), not two of them, on however busy a machine


def test_a_released_slot_frees_one_new_window_after_its_answer(make_limiter: MakeLimiter) -> None:
    async def scenario() -> tuple[Wait, Wait]:
        limiter = make_limiter()
        await limiter.set_rates(Rates((Rate(1, WINDOW_S),)))
        await limiter.release(await limiter.acquire())
        longer = await limiter.try_acquire()
        await limiter.set_rates(Rates((Rate(1, 0.5),)))  # the upstream's window turns out shorter
        shorter = await limiter.try_acquire()
        await limiter.close()
        assert isinstance(longer, Wait)
        assert isinstance(shorter, Wait)
        return longer, shorter

    longer, shorter = asyncio.run(scenario())
    assert 1.9 <= longer.seconds <= 2.0
    assert 0.4 <= shorter.seconds <= 0.5


def test_a_lowered_limit_never_frees_a_slot_in_flight(make_limiter: MakeLimiter) -> None:
    async def scenario() -> tuple[list[Slot], Wait]:
        limiter = make_limiter()
        (first, _, _), _ = await take_all(limiter)
        await limiter.set_rates(Rates((Rate(1, WINDOW_S),)))  # two over the new limit, in flight
        await limiter.cancel(first)  # still one in flight over the limit of one
        answer = await take_all(limiter)
        await limiter.close()
        return answer

    slots, wait = asyncio.run(scenario())
    assert slots == []
    assert wait.reason == WINDOW


def test_every_policy_binds(make_limiter: MakeLimiter) -> None:
    async def scenario() -> tuple[int, Wait, int]:
        limiter = make_limiter()
        await limiter.set_rates(Rates((Rate(2, 0.3), Rate(3, 10.0))))
        slots, _ = await take_all(limiter)  # two, then the short window is full
        for slot in slots:
            await limiter.release(slot)
        await asyncio.sleep(0.35)
        more, wait = await take_all(limiter)  # one more, then the long window is full
        await limiter.close()
        return len(slots), wait, len(more)

    first, wait, second = asyncio.run(scenario())
    assert (first, second) == (2, 1)
    assert 9.5 <= wait.seconds <= 10.0


def test_a_pace_spaces_every_grant(make_limiter: MakeLimiter) -> None:
    async def scenario() -> tuple[Slot | Wait, Slot | Wait, float]:
        limiter = make_limiter()
        await limiter.set_rates(Rates(pace=5.0))
        first = await limiter.try_acquire()
        second = await limiter.try_acquire()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await limiter.acquire()
        waited = loop.time() - started
        await limiter.close()
        return first, second, waited

    first, second, waited = asyncio.run(scenario())
    assert isinstance(first, Slot)
    assert isinstance(second, Wait)
    assert second.reason == PACED
    assert 0.15 <= second.seconds <= 0.2
    assert 0.15 <= waited < 1.0  # an interval of the pace (0.2 s), not a second's window


def test_a_survey_counts_the_slots_and_takes_none(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        first, _ = await limiter.try_acquire(), await limiter.try_acquire()
        assert isinstance(first, Slot)
        await limiter.release(first)
        survey = await limiter.survey({})
        assert (survey.counted, survey.in_flight, survey.paused_for) == (2, 1, 0.0)
        assert len(survey.freeing) == 1 and 1.8 <= survey.freeing[0] <= WINDOW_S
        assert isinstance(await limiter.try_acquire(), Slot)  # the look took nothing
        await limiter.pause(1.0)
        assert 0.8 <= (await limiter.survey({})).paused_for <= 1.0
        await limiter.close()

    asyncio.run(scenario())
