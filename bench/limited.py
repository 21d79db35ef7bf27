"""The limited strategy: makespan against the physical limit, 429s, fairness, CPU."""

from __future__ import annotations

import asyncio
import math
import time

import aiohttp

from bench.harness import Service, emulator, get_json, median, print_table, service
from catfacts.strategies import ALL_AT_ONCE, LIMITED

RATE, LIMIT, WINDOW = "20/second", 20, 1.0
LATENCY, JITTER = 0.005, 0.002
CASES = [(1, 20), (1, 100), (1, 200), (10, 100), (10, 200)]  # (callers, facts in all)


def ideal(total: int, rtt: float, limit: int = LIMIT, window: float = WINDOW) -> float:
    """(ceil(n/L) - 1) windows, plus the one round trip of the last request."""
    return (math.ceil(total / limit) - 1) * window + rtt


async def round_trip(svc: Service, n: int = LIMIT) -> float:
    """The physical floor for one window's worth: n requests at once through the same service."""
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(5):
            svc.emulator.reset()
            times.append((await get_json(session, f"{svc.url}{ALL_AT_ONCE.path}/{n}"))[2])
    svc.emulator.reset()
    return median(times)


async def makespan(svc: Service, callers: int, total: int) -> tuple[float, int, int]:
    """All callers start together; returns the time until the last one has its facts."""
    await fresh_budget(svc)
    each = total // callers
    async with aiohttp.ClientSession() as session:
        await get_json(session, f"{svc.url}/hello/")
        started = time.perf_counter()
        results = await asyncio.gather(
            *(get_json(session, f"{svc.url}{LIMITED.path}/{each}") for _ in range(callers))
        )
        elapsed = time.perf_counter() - started
    exact = sum(
        status == 200 and isinstance(body, list) and len(body) == each
        for status, body, _ in results
    )
    return elapsed, exact, svc.emulator.stats()["statuses"].get("429", 0)


async def fresh_budget(svc: Service) -> None:
    """The ideal assumes an unspent budget: let the service's slots free (one idle window)."""
    await asyncio.sleep(WINDOW * 1.1)
    svc.emulator.reset()


async def small_during_large(svc: Service, large: int, small: int, after: float) -> float:
    await fresh_budget(svc)
    async with aiohttp.ClientSession() as session:
        big = asyncio.create_task(get_json(session, f"{svc.url}{LIMITED.path}/{large}"))
        await asyncio.sleep(after)
        status, body, took = await get_json(session, f"{svc.url}{LIMITED.path}/{small}")
        assert status == 200 and isinstance(body, list) and len(body) == small
        await big
    return took


def main() -> None:
    rows = []
    with emulator(RATE, LATENCY, JITTER) as upstream, service(upstream, RATE) as svc:
        rtt = asyncio.run(round_trip(svc))
        asyncio.run(makespan(svc, 1, 1))  # the first call probes the upstream once
        for callers, total in CASES:
            cpu_before = svc.cpu()
            runs = [asyncio.run(makespan(svc, callers, total)) for _ in range(3)]
            cpu = (svc.cpu() - cpu_before) / (3 * total)
            wall = median([run[0] for run in runs])
            best = ideal(total, rtt)
            rows.append(
                [
                    callers,
                    total,
                    f"{wall:.3f}",
                    f"{best:.3f}",
                    f"{(wall / best - 1) * 100:+.1f}%",
                    f"{sum(run[1] for run in runs)}/{3 * callers}",
                    sum(run[2] for run in runs),
                    f"{cpu * 1000:.3f}",
                ]
            )
    print_table(
        f"Limited: makespan against the ideal (emulator: {RATE}, {LATENCY * 1000:.0f}±"
        f"{JITTER * 1000:.0f} ms)",
        [
            "callers",
            "facts",
            "makespan s",
            "ideal s",
            "over ideal",
            "exact calls",
            "429s",
            "CPU ms / upstream request",
        ],
        rows,
    )
    fast = "100/second"
    with emulator(fast, LATENCY, JITTER) as upstream, service(upstream, fast) as svc:
        asyncio.run(makespan(svc, 1, 1))
        waits = [asyncio.run(small_during_large(svc, 1000, 3, after)) for after in (2.3, 4.6, 6.9)]
    print_table(
        f"Limited: a 3-fact call made during a 1000-fact call (emulator: {fast})",
        ["small call waits s (median of 3)", "in windows"],
        [[f"{median(waits):.3f}", f"{median(waits) / WINDOW:.2f}"]],
    )
