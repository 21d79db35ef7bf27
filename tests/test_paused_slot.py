"""A process paused between taking a slot and sending on it (SIGSTOP, a VM migration) checks that
the slot is still its own before it sends, against a real Redis; the pause itself is a clock moved
back, the lease's end is real. The real pause, in real gunicorn workers: tests/test_hosts.py."""

from __future__ import annotations

import asyncio
import dataclasses

import redis

from catfacts.limiter import Slot, Wait
from catfacts.limiter.redis import CONFIRM_AFTER, LEASE_MARGIN, RedisLimiter
from catfacts.rates import Rates

RATE = Rates.parse("1/second")
UPSTREAM = "http://upstream.test"


def script_calls(url: str) -> int:
    """Every script Redis ran so far (the limiter's only commands), but a script's first call,
    refused as unknown (NOSCRIPT) and sent again in full, once per process."""
    stats = redis.Redis.from_url(url).info("commandstats")
    ran = [stats.get(f"cmdstat_{name}", {}) for name in ("evalsha", "eval")]
    return sum(stat.get("calls", 0) - stat.get("failed_calls", 0) for stat in ran)


def paused(slot: Slot, seconds: float) -> Slot:
    """`slot` as a process sees it after a pause of `seconds` since it asked for it."""
    return dataclasses.replace(slot, taken=slot.taken - seconds)


def test_a_slot_sent_on_at_once_is_confirmed_without_asking_redis(redis_url: str) -> None:
    async def scenario() -> tuple[Slot | None, Slot, int]:
        limiter = RedisLimiter(RATE, redis_url, UPSTREAM, lease=0.0)
        slot = await limiter.try_acquire()
        assert isinstance(slot, Slot)
        before = script_calls(redis_url)
        confirmed = await limiter.confirm(slot)
        calls = script_calls(redis_url) - before
        await limiter.close()
        return confirmed, slot, calls

    confirmed, slot, calls = asyncio.run(scenario())
    assert confirmed is slot
    assert calls == 0


def test_a_slot_whose_lease_still_runs_is_kept_and_its_lease_renewed(redis_url: str) -> None:
    async def scenario() -> tuple[Slot | None, float, float, int]:
        limiter = RedisLimiter(RATE, redis_url, UPSTREAM, lease=5.0)
        slot = await limiter.try_acquire()
        assert isinstance(slot, Slot)
        leases = redis.Redis.from_url(redis_url)
        key = next(iter(leases.keys("catfacts:*:leases")))
        granted = leases.zscore(key, slot.id) or 0.0
        await asyncio.sleep(0.05)
        before = script_calls(redis_url)
        confirmed = await limiter.confirm(paused(slot, CONFIRM_AFTER + 0.1))
        calls = script_calls(redis_url) - before
        renewed = leases.zscore(key, slot.id) or 0.0
        await limiter.close()
        return confirmed, granted, renewed, calls

    confirmed, granted, renewed, calls = asyncio.run(scenario())
    assert confirmed is not None
    assert renewed >= granted + 50  # the lease now runs from the confirmation
    assert calls == 1


def test_a_slot_paused_past_its_lease_is_dropped_and_frees_the_budget(redis_url: str) -> None:
    """The lease (no upstream time-out, so LEASE_MARGIN) ends while the holder is paused: Redis
    counts the slot as answered then, so another host waits a window for it. The holder, back,
    learns the slot is lost and sends nothing on it; the slot stops counting at once."""

    async def scenario() -> tuple[Slot | Wait, Slot | None, Slot | Wait]:
        holder, other = (RedisLimiter(RATE, redis_url, UPSTREAM, lease=0.0) for _ in range(2))
        slot = await holder.try_acquire()
        assert isinstance(slot, Slot)
        await asyncio.sleep(LEASE_MARGIN + 0.1)  # the holder is "paused" past its lease
        while_paused = await other.try_acquire()
        confirmed = await holder.confirm(paused(slot, LEASE_MARGIN + 0.1))
        after = await other.try_acquire()
        for limiter in (holder, other):
            await limiter.close()
        return while_paused, confirmed, after

    while_paused, confirmed, after = asyncio.run(scenario())
    assert isinstance(while_paused, Wait)
    assert confirmed is None
    assert isinstance(after, Slot)
