"""Several workers: the in-process limiter against the Redis one, and what one acquire costs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench.harness import emulator, median, print_table, redis_server, service
from bench.limited import LATENCY, RATE, ideal, makespan, round_trip
from catfacts.limiter import Limiter, Slot
from catfacts.limiter.memory import MemoryLimiter
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rates

WORKERS, CALLERS, EACH = 4, 8, 25


def main() -> None:
    with redis_server("workers") as url:
        rows = [
            shared_budget("in-process", {}),
            shared_budget("Redis", {"CATFACTS_REDIS_URL": url}),
        ]
        costs = asyncio.run(acquire_costs(url))
    print_table(
        f"{WORKERS} gunicorn workers, {CALLERS} concurrent callers of {EACH} facts "
        f"(emulator: {RATE}, {LATENCY * 1000:.0f} ms)",
        ["limiter", "makespan s", "ideal s", "over ideal", "exact calls", "429s served"],
        rows,
    )
    print_table("One acquire and release of a slot", ["limiter", "µs per acquire + release"], costs)


def shared_budget(name: str, env: dict[str, str]) -> list[object]:
    with emulator(RATE, LATENCY) as upstream, service(upstream, RATE, WORKERS, env=env) as svc:
        rtt = asyncio.run(round_trip(svc))
        wall, exact, refused = asyncio.run(makespan(svc, CALLERS, CALLERS * EACH))
    best = ideal(CALLERS * EACH, rtt)
    return [
        name,
        f"{wall:.2f}",
        f"{best:.2f}",
        f"{(wall / best - 1) * 100:+.1f}%",
        f"{exact}/{CALLERS}",
        refused,
    ]


async def acquire_costs(redis_url: str) -> list[list[str]]:
    rate = Rates.parse("1000000/second")
    memory = MemoryLimiter(rate)
    shared = RedisLimiter(rate, redis_url, "http://bench.test", lease=5.0)
    rows = [
        ["in-process", f"{await per_cycle(memory, 20000):.1f}"],
        ["Redis (loopback)", f"{await per_cycle(shared, 2000):.1f}"],
    ]
    await shared.close()
    return rows


async def per_cycle(limiter: Limiter, cycles: int) -> float:
    async def cycle() -> None:
        slot = await limiter.try_acquire()
        assert isinstance(slot, Slot)
        await limiter.release(slot)

    return median([await timed(cycle, cycles) for _ in range(3)]) * 1e6


async def timed(step: Callable[[], Awaitable[None]], times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        await step()
    return (time.perf_counter() - started) / times
