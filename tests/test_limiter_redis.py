"""What only the Redis limiter does: one budget across hosts, expiring keys, prompt failure."""

from __future__ import annotations

import asyncio

import pytest
import redis

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import PAUSED, Slot, StateLost, Wait
from catfacts.limiter.redis import RedisLimiter
from catfacts.settings import Rate
from tests.support import closed_port_url

RATE = Rate.parse("5/second")
UPSTREAM = "http://upstream.test"


def test_two_limiters_standing_for_two_hosts_share_one_budget(redis_url: str) -> None:
    async def scenario() -> int:
        hosts = [RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2)]
        granted = 0
        for turn in range(12):
            if isinstance(await hosts[turn % 2].try_acquire(), Slot):
                granted += 1
        for host in hosts:
            await host.close()
        return granted

    assert asyncio.run(scenario()) == 5


def test_a_pause_seen_by_one_host_holds_the_other(redis_url: str) -> None:
    async def scenario() -> Slot | Wait:
        one, other = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2))
        await one.pause(2.0)
        answer = await other.try_acquire()
        await one.close()
        await other.close()
        return answer

    answer = asyncio.run(scenario())
    assert isinstance(answer, Wait)
    assert answer.reason == PAUSED


def test_different_upstreams_have_different_budgets(redis_url: str) -> None:
    async def scenario() -> bool:
        spent = RedisLimiter(Rate.parse("1/second"), redis_url, UPSTREAM, lease=5.0)
        other = RedisLimiter(Rate.parse("1/second"), redis_url, "http://other.test", lease=5.0)
        await spent.acquire()
        granted = isinstance(await other.try_acquire(), Slot)
        await spent.close()
        await other.close()
        return granted

    assert asyncio.run(scenario())


def test_every_key_expires(redis_url: str) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0)
        await limiter.release(await limiter.acquire(clients=lambda: ["a client"]))
        await limiter.pause(1.0)
        await limiter.set_rate(4, RATE.window)
        await limiter.close()

    asyncio.run(scenario())
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("catfacts:*")
    assert len(keys) == 6  # slots, pause, limit, seq, and who waits and how much each got
    assert all(client.pttl(key) > 0 for key in keys)


def test_an_unreachable_redis_is_a_prompt_service_unavailable() -> None:
    url = closed_port_url().replace("http", "redis")

    async def scenario() -> None:
        limiter = RedisLimiter(RATE, url, UPSTREAM, lease=5.0)
        try:
            await asyncio.wait_for(limiter.acquire(), 5)
        finally:
            await limiter.close()

    with pytest.raises(ServiceUnavailable, match="Redis"):
        asyncio.run(scenario())


def test_slots_lost_without_an_error_are_noticed_and_hold_every_host_for_a_window(
    redis_url: str,
) -> None:
    async def scenario() -> tuple[BaseException | Slot | Wait, Slot | Wait]:
        busy, fresh = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2))
        for _ in range(5):
            await busy.acquire()
        redis.Redis.from_url(redis_url).flushall()  # no command fails: only the count tells
        try:
            noticed: BaseException | Slot | Wait = await busy.try_acquire()
        except StateLost as lost:
            noticed = lost
        held = await fresh.try_acquire()  # a host that never saw the old count waits too
        await busy.close()
        await fresh.close()
        return noticed, held

    noticed, held = asyncio.run(scenario())
    assert isinstance(noticed, StateLost)
    assert isinstance(held, Wait)
    assert held.reason == PAUSED
    assert 0.9 <= held.seconds <= 1.0


def test_a_lowered_limit_is_asserted_again_after_it_was_lost(redis_url: str) -> None:
    async def scenario() -> int:
        told, other = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2))
        await told.set_rate(2, RATE.window)
        client = redis.Redis.from_url(redis_url)
        client.delete(f"catfacts:{{{UPSTREAM}}}:limit")  # expired, say
        await told.try_acquire()  # re-asserts it
        granted = 1
        for _ in range(5):
            if isinstance(await other.try_acquire(), Slot):
                granted += 1
        await told.close()
        await other.close()
        return granted

    assert asyncio.run(scenario()) == 2
