"""One by one and all at once, against a 50 ms emulator with the real API's 100/minute limit."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.harness import (
    UNBOUNDED,
    Service,
    bare_gather,
    emulator,
    get_json,
    median,
    print_table,
    service,
)
from catfacts.strategies import ALL_AT_ONCE, ONE_BY_ONE, Info

RATE = "100/minute"
LATENCY = 0.05
RUNS = {
    ONE_BY_ONE: {1: 40, 10: 10, 100: 2, 1000: 1},
    ALL_AT_ONCE: {1: 40, 10: 40, 100: 20, 1000: 5},
}


async def measure(svc: Service, strategy: Info, n: int, runs: int) -> list[object]:
    walls, returned, refused, requests, cpu = [], 0, 0, 0, 0.0
    async with aiohttp.ClientSession() as session:
        await get_json(session, f"{svc.url}/hello/")
        for _ in range(runs):
            svc.emulator.reset()
            cpu_before = svc.cpu()
            status, body, wall = await get_json(session, f"{svc.url}{strategy.path}/{n}")
            cpu += svc.cpu() - cpu_before
            walls.append(wall)
            stats = svc.emulator.stats()
            returned = len(body) if isinstance(body, list) else 0
            refused += stats["statuses"].get("429", 0)
            requests += stats["total"]
    rtt = await round_trip(svc.emulator.url)
    ideal = (n if strategy is ONE_BY_ONE else 1) * rtt
    answer = f"{returned} facts" if status == 200 else f"{status}, {body['fetched']} fetched"  # type: ignore[index]
    return [
        f"{strategy.path}/{n}",
        f"{median(walls) * 1000:.0f}",
        f"{ideal * 1000:.0f}",
        answer,
        f"{refused / runs:.0f}",
        f"{cpu / max(requests, 1) * 1000:.3f}",
    ]


async def round_trip(url: str) -> float:
    async with aiohttp.ClientSession() as session:
        times = []
        for _ in range(10):
            started = time.perf_counter()
            async with session.get(f"{url}/__emulator__/config") as response:
                await response.read()
            times.append(time.perf_counter() - started)
    return median(times) + LATENCY


def main() -> None:
    with emulator(RATE, LATENCY) as upstream, service(upstream, RATE, env=UNBOUNDED) as svc:
        rows = []
        for strategy, runs in RUNS.items():
            for n, count in runs.items():
                rows.append(asyncio.run(measure(svc, strategy, n, count)))
        print_table(
            f"One by one and all at once (emulator: {RATE}, {LATENCY * 1000:.0f} ms latency)",
            ["call", "p50 ms", "ideal ms", "answer", "429s served", "CPU ms / upstream request"],
            rows,
        )
        upstream.configure(rate_limit="100000/minute")
        gathers = [asyncio.run(bare_gather(upstream.url, 100)) for _ in range(10)]
        ours = [asyncio.run(one_call(svc, ALL_AT_ONCE, 100)) for _ in range(20)]
        idle_before = svc.cpu()
        time.sleep(3)
        idle = (svc.cpu() - idle_before) / 3
    print_table(
        "All at once against a bare aiohttp gather (100 requests, no limit)",
        ["bare gather p50 ms", f"{ALL_AT_ONCE.path}/100 p50 ms", "ratio", "idle service CPU"],
        [
            [
                f"{median(gathers) * 1000:.0f}",
                f"{median(ours) * 1000:.0f}",
                f"{median(ours) / median(gathers):.2f}",
                f"{idle * 100:.1f}%",
            ]
        ],
    )


async def one_call(svc: Service, strategy: Info, n: int) -> float:
    async with aiohttp.ClientSession() as session:
        await get_json(session, f"{svc.url}/hello/")
        return (await get_json(session, f"{svc.url}{strategy.path}/{n}"))[2]
