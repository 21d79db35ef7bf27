"""Fair shares across workers: the Redis limiter's choice of client, against a real Redis.

Two limiters stand for two workers sharing one budget; each names the clients it has work for.
A free slot goes to the named client served least among every client any worker waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis

from catfacts.limiter import BEHIND, WINDOW, Slot, Wait
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rates

UPSTREAM = "http://upstream.test"
WORKERS = Callable[[RedisLimiter, RedisLimiter], Awaitable[None]]


def with_two_workers(redis_url: str, scenario: WORKERS, rate: str = "100/second") -> None:
    async def run() -> None:
        one, two = (RedisLimiter(Rates.parse(rate), redis_url, UPSTREAM, lease=5.0) for _ in "12")
        try:
            await scenario(one, two)
        finally:
            await one.close()
            await two.close()

    asyncio.run(run())


async def granted(limiter: RedisLimiter, *clients: str) -> str | None:
    answer = await limiter.try_acquire(clients)
    assert isinstance(answer, Slot), answer
    return answer.client


def test_a_client_behind_on_another_worker_is_served_before_one_ahead(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        for _ in range(3):  # alone, the crowd takes what it likes
            assert await granted(one, "crowd") == "crowd"
        # The single client starts level with the crowd (3), not 3 behind: no burst of catch-up.
        assert await granted(two, "single", "crowd") == "single"  # 4, the crowd 3
        assert await granted(one, "crowd") == "crowd"  # 4 and 4
        assert await granted(one, "crowd") == "crowd"  # a tie: either may go; 5 and 4
        behind = await one.try_acquire(["crowd"])
        assert isinstance(behind, Wait)
        assert behind.reason == BEHIND
        assert 0 < behind.seconds <= one.rates.longest_window
        # Worker two holds both; the single client is the one behind, whatever its turn order.
        assert await granted(two, "crowd", "single") == "single"
        assert await granted(one, "crowd") == "crowd"

    with_two_workers(redis_url, scenario)


def test_equal_shares_whoever_asks_more_often(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        served = {"crowd": 0, "single": 0}
        for turn in range(60):  # worker one asks three times as often as worker two
            worker, client = (two, "single") if turn % 4 == 0 else (one, "crowd")
            answer = await worker.try_acquire([client])
            if isinstance(answer, Slot):
                assert answer.client == client
                served[client] += 1
                await worker.cancel(answer)
        assert abs(served["crowd"] - served["single"]) <= 1, served

    with_two_workers(redis_url, scenario)


def test_the_same_client_on_two_workers_takes_turns_whoever_asks_more_often(
    redis_url: str,
) -> None:
    """Not a race the faster worker wins: one slot each, so the estimates can count on it."""

    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        for _ in range(5):  # alone, worker one takes what it likes
            assert await granted(one, "same") == "same"
        served = {one._me: 0, two._me: 0}
        for turn in range(60):  # worker one asks three times as often as worker two
            worker = two if turn % 4 == 0 else one
            answer = await worker.try_acquire(["same"])
            if isinstance(answer, Slot):
                served[worker._me] += 1
                await worker.cancel(answer)
            else:
                assert answer.reason == BEHIND and answer.seconds == pytest.approx(0.001)
        # Worker two came in level with worker one's 5, not 5 behind; a tie goes to whoever
        # asks, so one is never more than one ahead.
        assert served == {one._me: 16, two._me: 15}, served

    with_two_workers(redis_url, scenario)


def test_a_wait_for_another_workers_client_takes_no_slot(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        assert await granted(two, "single") == "single"
        assert await granted(one, "crowd") == "crowd"  # joins level with single's 1: 2 and 1
        for _ in range(3):
            behind = await one.try_acquire(["crowd"])
            assert isinstance(behind, Wait) and behind.reason == BEHIND
            assert behind.seconds == pytest.approx(0.01)  # one slot's share of the window
        # Two slots taken, the refusals none.
        assert redis.Redis.from_url(redis_url).zcard(one._keys[1]) == 2  # in flight
        assert await granted(two, "single") == "single"

    with_two_workers(redis_url, scenario)


def test_when_every_slot_is_taken_the_wait_is_the_windows_not_the_turns(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        assert await granted(one, "crowd") == "crowd"
        assert await granted(two, "single") == "single"
        full = await one.try_acquire(["crowd"])
        assert isinstance(full, Wait) and full.reason == WINDOW

    with_two_workers(redis_url, scenario, "2/second")


def test_a_worker_that_withdraws_holds_no_one_back(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        assert await granted(two, "single") == "single"
        assert await granted(one, "crowd") == "crowd"
        assert isinstance(await one.try_acquire(["crowd"]), Wait)
        await two.withdraw()  # its single call is done
        assert await granted(one, "crowd") == "crowd"

    with_two_workers(redis_url, scenario)


def test_a_client_no_worker_asks_for_any_more_drops_out_within_a_window(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        assert await granted(two, "single") == "single"
        assert await granted(one, "crowd") == "crowd"
        assert isinstance(await one.try_acquire(["crowd"]), Wait)
        await asyncio.sleep(two.rates.longest_window + 1.1)  # worker two died without a word
        assert await granted(one, "crowd") == "crowd"

    with_two_workers(redis_url, scenario, "10/second")


def test_a_worker_that_stops_naming_a_client_drops_it(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        assert await granted(two, "single", "other") == "single"
        assert await granted(two, "other") == "other"
        waiting = redis.Redis.from_url(redis_url).zrange(two._keys[6], 0, -1)
        assert waiting == [f"{two._me}\nother".encode()]

    with_two_workers(redis_url, scenario)


def test_without_clients_named_the_limiter_grants_as_before(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        assert await granted(two, "single") == "single"
        answer = await one.try_acquire()
        assert isinstance(answer, Slot) and answer.client is None

    with_two_workers(redis_url, scenario)


def test_twenty_thousand_clients_leave_no_more_counts_than_clients_waited_for(
    redis_url: str,
) -> None:
    """A crowd of addresses that each came once: `served` keeps only those still waited for
    (it held one field for every address ever seen, renewed by every acquire)."""
    batch, batches = 100, 200

    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        store = redis.Redis.from_url(redis_url)
        waiting, served = one._keys[6], one._keys[7]
        for b in range(batches):
            if b % 50 == 0:  # a steady client on the other worker, ahead of none
                assert await granted(two, "steady") == "steady"
            crowd = [f"10.{b // 256}.{b % 256}.{i}" for i in range(batch)]
            answer = await one.try_acquire(crowd)
            assert isinstance(answer, Slot) and answer.client == crowd[0]
            await one.cancel(answer)
            assert store.hlen(served) <= batch + 1
        assert store.zcard(waiting) == batch + 1  # this batch and the steady client
        assert store.hlen(served) <= batch + 1
        assert store.hget(served, "10.0.0.0") is None

    with_two_workers(redis_url, scenario, "1000000/second")


def test_a_client_that_comes_back_starts_level_with_the_least_served(redis_url: str) -> None:
    async def scenario(one: RedisLimiter, two: RedisLimiter) -> None:
        store = redis.Redis.from_url(redis_url)
        served = one._keys[7]
        for _ in range(3):
            assert await granted(one, "gone") == "gone"
        assert await granted(two, "steady") == "steady"  # starts level: 3, then 4
        assert await granted(one, "other") == "other"  # worker one stops naming "gone"
        assert store.hget(served, "gone") is None
        assert await granted(one, "gone") == "gone"  # back level with "steady" (4), not at 3
        assert store.hmget(served, ["gone", "steady"]) == [b"5", b"4"]

    with_two_workers(redis_url, scenario)
