"""How the rate is found: each case's makespan against its ideal, 429s, and the peak arrivals.

Every case is judged by the emulator's own arrival log: the most requests that arrived in any
window of each policy it enforces, against that policy's limit.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
import redis
import urllib3

from bench.harness import Service, emulator, get_json, print_table, redis_server, service
from catfacts.emulator.process import EmulatorControl, max_in_any_window
from catfacts.strategies import LIMITED, ONE_BY_ONE

LATENCY, JITTER = 0.005, 0.001
AFTER = 2.0  # seconds between /cat/1 and the limited call


@dataclass(frozen=True)
class Outcome:
    makespan: float
    exact: bool
    refused: int
    sent: int
    peak: str  # "most in any W / L" for each policy


def ideal_for(
    total: int, policies: list[tuple[int, float]], rtt: float = LATENCY, started: float = 0.0
) -> float:
    """The physical floor of `total` arrivals (extra hops, and others' before ours, included):
    each policy allows L at once, then L more every W; less the `started` seconds that passed
    between the first of them and our call."""
    windows = max((math.ceil(total / limit) - 1) * window for limit, window in policies)
    return max(windows - started, 0.0) + rtt


async def fetch(svc: Service, n: int, callers: int = 1, request_id: str = "") -> float:
    """`callers` concurrent limited calls of n; the time until the last has its facts."""
    headers = {"X-Request-ID": request_id} if request_id else {}
    async with aiohttp.ClientSession(headers=headers) as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(get_json(session, f"{svc.url}{LIMITED.path}/{n}") for _ in range(callers))
        )
        elapsed = time.perf_counter() - started
    if not all(
        status == 200 and isinstance(body, list) and len(body) == n for status, body, _ in results
    ):
        raise RuntimeError(f"a call did not get exactly {n}: {results[0][:2]}")
    return elapsed


def judged(upstream: EmulatorControl, took: float, request_id: str = "") -> Outcome:
    arrivals = upstream.arrivals()
    stats = upstream.stats()
    counts = stats["by_request_id"].get(request_id, {}) if request_id else stats["statuses"]
    peaks = [
        f"{max_in_any_window(arrivals, window)}/{limit}"
        for limit, window in upstream.rate_policies()
    ]
    return Outcome(took, True, counts.get("429", 0), sum(counts.values()), ", ".join(peaks))


def row(name: str, outcome: Outcome, ideal: float) -> list[object]:
    return [
        name,
        f"{outcome.makespan:.2f}",
        f"{ideal:.2f}",
        f"{outcome.makespan / ideal:.2f}x",
        f"{outcome.refused}/{outcome.sent}",
        outcome.peak,
    ]


def workers_learning(rows: list[list[object]]) -> None:
    """4 workers sharing Redis learn 10/second from each dialect, 12 callers of 10 facts."""
    with redis_server("rates") as redis_url:
        for dialect in ("ietf", "github", "laravel", "proxy"):
            with emulator("10/second", LATENCY, JITTER) as upstream:
                upstream.configure(dialect=dialect)
                env = {"CATFACTS_REDIS_URL": redis_url}
                with service(upstream, "auto", 4, env=env) as svc:
                    took = asyncio.run(fetch(svc, 10, callers=12))
                    ideal = ideal_for(120, [(10, 1.0)])
                    rows.append(
                        row(f"4 workers + Redis, auto, {dialect}", judged(upstream, took), ideal)
                    )
            _flush(redis_url)


def _flush(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()


def after_another_call(rows: list[list[object]]) -> None:
    """`auto`, 20 per 10 s: /cat/1 spends the window's first hit, then 60 limited facts."""
    for dialect in ("ietf", "github", "laravel"):
        with emulator("20 per 10 seconds", LATENCY, JITTER) as upstream:
            upstream.configure(dialect=dialect)
            with service(upstream, "auto") as svc:
                asyncio.run(_one_by_one(svc))
                time.sleep(AFTER)
                took = asyncio.run(fetch(svc, 60))
                ideal = ideal_for(61, [(20, 10.0)], started=AFTER)  # /cat/1 spent one
                rows.append(
                    row(f"auto after /cat/1, {dialect} 20/10 s", judged(upstream, took), ideal)
                )


async def _one_by_one(svc: Service) -> None:
    async with aiohttp.ClientSession() as session:
        await get_json(session, f"{svc.url}{ONE_BY_ONE.path}/1")


def refusals_alone(rows: list[list[object]]) -> None:
    """nginx limit_req 20 r/s, burst 0, no headers: the first 200-fact call, then the next."""
    with emulator("20/second", LATENCY, JITTER) as upstream:
        upstream.configure(dialect="proxy")
        with service(upstream, "auto") as svc:
            for label in ("first", "next"):
                upstream.reset()
                took = asyncio.run(fetch(svc, 200))
                rows.append(
                    row(f"proxy limit_req 20 r/s, {label} 200", judged(upstream, took), 200 / 20)
                )


def several_limits(rows: list[list[object]]) -> None:
    """20/second and 60 per 10 s at once, configured, then announced (IETF) under auto."""
    rates = "20/second;60 per 10 seconds"
    for configured, dialect in ((rates, "laravel"), ("auto", "ietf")):
        with emulator(rates, LATENCY, JITTER) as upstream:
            upstream.configure(dialect=dialect)
            with service(upstream, configured) as svc:
                took = asyncio.run(fetch(svc, 100))
                ideal = ideal_for(100, [(20, 1.0), (60, 10.0)])
                rows.append(row(f"{rates}, {configured}", judged(upstream, took), ideal))


def redirects(rows: list[list[object]]) -> None:
    """Every hop an arrival: a temporary redirect doubles the requests, a permanent one costs
    one more (the first answer moves the URL for good)."""
    for kind, arrivals in (("temporary", 120), ("permanent", 61)):
        with emulator("20/second", LATENCY, JITTER) as upstream:
            upstream.configure(redirect=kind)
            with service(upstream, "20/second") as svc:
                took = asyncio.run(fetch(svc, 60))
                rows.append(
                    row(
                        f"{kind} redirect, 60 facts",
                        judged(upstream, took),
                        ideal_for(arrivals, [(20, 1.0)]),
                    )
                )


def shared_quota(rows: list[list[object]]) -> None:
    """A fixed window of 20/second, another client spending 10 at the start of every second."""
    with emulator("20/second", LATENCY, JITTER) as upstream:
        upstream.configure(dialect="laravel")
        with service(upstream, "20/second") as svc, neighbour(upstream.url):
            took = asyncio.run(fetch(svc, 100, request_id="ours"))
            # Whoever is first in a window gets it: when our burst is, the other client's requests
            # are the ones refused, and we may beat the ideal of 10 a second.
            theirs = upstream.stats()["by_request_id"].get("other", {}).get("429", 0)
            rows.append(
                row(
                    f"another client spends 10 of 20 a second (its 429s: {theirs})",
                    judged(upstream, took, "ours"),
                    ideal_for(100, [(10, 1.0)]),
                )
            )


@contextmanager
def neighbour(url: str) -> Iterator[None]:
    stop = threading.Event()

    def spend() -> None:
        pool = urllib3.PoolManager(retries=False, timeout=10)
        while not stop.is_set():
            began = time.monotonic()
            for _ in range(10):
                pool.request("GET", f"{url}/fact", headers={"X-Request-ID": "other"})
            stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))

    thread = threading.Thread(target=spend)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


SECTIONS: list[Callable[[list[list[object]]], None]] = [
    workers_learning,
    after_another_call,
    refusals_alone,
    several_limits,
    redirects,
    shared_quota,
]


def main() -> None:
    rows: list[list[object]] = []
    for section in SECTIONS:
        section(rows)
    print_table(
        f"How the rate is found (emulator {LATENCY * 1000:.0f}±{JITTER * 1000:.0f} ms; "
        "peak = most arrivals in any window of each policy / its limit)",
        ["case", "makespan s", "ideal s", "over ideal", "429s / sent", "peak / L"],
        rows,
    )
