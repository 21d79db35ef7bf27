"""What only the Redis limiter does: one budget across hosts, expiring keys, prompt failure."""

from __future__ import annotations

import asyncio

import pytest
import redis

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import PAUSED, Slot, StateLost, Wait
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rate, Rates
from tests.support import closed_port_url

RATE = Rates.parse("5/second")
UPSTREAM = "http://upstream.test"
WINDOW_S = RATE.policies[0].window


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
        spent = RedisLimiter(Rates.parse("1/second"), redis_url, UPSTREAM, lease=5.0)
        other = RedisLimiter(Rates.parse("1/second"), redis_url, "http://other.test", lease=5.0)
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
        await limiter.acquire(clients=lambda: ["a client"])  # still in flight
        await limiter.pause(1.0)
        await limiter.set_rates(Rates((Rate(4, WINDOW_S),)))
        await limiter.close()

    asyncio.run(scenario())
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("catfacts:*")
    # answered and in flight, pause, rates, seq, and who waits and how much each got, per
    # client and per worker and client
    assert len(keys) == 8
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
        await told.set_rates(Rates((Rate(2, WINDOW_S),)))
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


def test_what_one_worker_learns_every_worker_uses(redis_url: str) -> None:
    async def scenario() -> tuple[list[Rates], Rates, Slot | Wait]:
        one, two = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2))
        heard: list[Rates] = []
        two.on_shared = heard.append
        learned = Rates((Rate(1, 2.0),))
        await one.set_rates(learned)
        await one.acquire()
        answer = await two.try_acquire()  # one slot per 2 s, for every worker
        await one.close()
        await two.close()
        return heard, two.rates, answer

    heard, rates, answer = asyncio.run(scenario())
    assert heard == [Rates((Rate(1, 2.0),))]
    assert rates == heard[0]
    assert isinstance(answer, Wait)


def test_a_change_based_on_stale_rates_is_refused_and_the_newer_ones_taken(
    redis_url: str,
) -> None:
    async def scenario() -> tuple[Rates, Rates, Rates]:
        one, two = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2))
        await two.try_acquire()  # two has seen the rates as they were (none shared)
        await one.set_rates(Rates((Rate(2, 1.0),)))
        in_force = await two.set_rates(Rates((Rate(4, 1.0),)))  # two had not seen one's
        again = await one.set_rates(Rates((Rate(2, 1.0),)))  # a retry changes nothing
        await one.close()
        await two.close()
        return in_force, two.rates, again

    in_force, rates, again = asyncio.run(scenario())
    assert in_force == rates == again == Rates((Rate(2, 1.0),))


def test_learned_rates_last_as_long_as_the_window_says_not_a_day(redis_url: str) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter(RATE, redis_url, UPSTREAM, lease=1.0)
        await limiter.set_rates(Rates((Rate(2, 10.0),)))
        await limiter.close()

    asyncio.run(scenario())
    ttl = redis.Redis.from_url(redis_url).pttl(f"catfacts:{{{UPSTREAM}}}:rates")
    assert 0 < ttl <= (1.0 + 1.0 + 2 * 10.0) * 1000  # a lease, and two windows


def test_a_slot_whose_lease_ends_counts_as_answered_from_then(redis_url: str) -> None:
    async def scenario() -> tuple[Slot | Wait, Slot | Wait]:
        limiter = RedisLimiter(Rates((Rate(1, 1.0),)), redis_url, UPSTREAM, lease=0.1)
        await limiter.acquire()  # its worker never says (it died, say): the lease ends in 1.1 s
        await asyncio.sleep(1.3)
        held = await limiter.try_acquire()  # counted as answered when the lease ended
        await asyncio.sleep(1.0)
        free = await limiter.try_acquire()
        await limiter.close()
        return held, free

    held, free = asyncio.run(scenario())
    assert isinstance(held, Wait)
    assert 0.7 <= held.seconds <= 0.85
    assert isinstance(free, Slot)


def test_each_worker_hears_what_the_others_have_queued_until_they_say_nothing(
    redis_url: str,
) -> None:
    async def scenario() -> None:
        one, other = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0) for _ in range(2))
        await one.survey({"x": (2, 30)})
        assert (await other.survey({"x": (1, 5), "y": (1, 7)})).others == {"x": (2, 30)}
        assert (await one.survey({"x": (2, 30)})).others == {"x": (1, 5), "y": (1, 7)}
        await other.survey({})  # nothing queued there any more
        assert (await one.survey({"x": (2, 28)})).others == {}
        await one.close()
        await other.close()

    asyncio.run(scenario())
    client = redis.Redis.from_url(redis_url)
    (queues,) = client.keys("catfacts:*:queues")
    assert 0 < client.pttl(queues) <= 2000  # a worker that dies is forgotten
