"""What all at once costs in CPU: the service's /cat_async/1000 against a bare aiohttp gather.

Both fetch the same 1000 `GET /fact` from one emulator (its default Laravel headers) with a limit
far above 1000/s, so nothing is refused; it runs in a child process, so its CPU is not counted.
The bare gather is one warm `ClientSession` with the service's connector limits (`AsyncUpstream`:
100 connections, 30 s keep-alive, the upstream time-out) reading each body. The service is the
real app, driven in this process through Flask's test client: routing, the call's timeline,
metrics, logging, the background loop, parsing every answer and the JSON of the reply, all of it
but gunicorn's socket. CPU is `time.process_time` of this process (every thread: the caller's and
the loop's), wall is `perf_counter`; medians of interleaved runs, after warm-up runs of each.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import statistics
import time
from collections.abc import Callable

import aiohttp

from bench.harness import print_table
from catfacts import create_app
from catfacts.emulator.process import EmulatorProcess
from catfacts.observe.timeline import Timeline
from catfacts.strategies.all_at_once import fetch_all_at_once
from catfacts.upstream.client import FACT_PATH, AsyncUpstream
from catfacts.web.extension import current_services

N = 1000
RATE = "1000000/second"  # far above N a second: every request is a 200
TIMEOUT = 5.0  # the service's default upstream time-out
WARMUP, RUNS = 3, 15
TARGET = 1.2  # the service's CPU at most this times the bare gather's


class BareGather:
    """N concurrent GETs from one warm aiohttp session, with the service's connector limits."""

    def __init__(self, url: str, connections: int) -> None:
        self.url = url + FACT_PATH
        self.connections = connections
        self.runner = asyncio.Runner()
        self.session: aiohttp.ClientSession | None = None

    async def _fetch(self, session: aiohttp.ClientSession) -> bytes:
        async with session.get(self.url) as response:
            return await response.read()

    async def _all(self) -> list[bytes]:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=30)
            timeout = aiohttp.ClientTimeout(total=TIMEOUT)
            self.session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        session = self.session
        return await asyncio.gather(*(self._fetch(session) for _ in range(N)))

    def __call__(self) -> int:
        return len(self.runner.run(self._all()))

    def close(self) -> None:
        if self.session is not None:
            self.runner.run(self.session.close())
        self.runner.close()


class Strategy:
    """The strategy alone, as the view calls it: the real client, timeline and metrics, no Flask."""

    def __init__(self, url: str) -> None:
        self.upstream = AsyncUpstream(url, TIMEOUT)
        self.runner = asyncio.Runner()

    def __call__(self) -> int:
        timeline = Timeline("all_at_once", N, "bench", (1_000_000, 1.0))
        facts = self.runner.run(fetch_all_at_once(self.upstream, N, timeline))
        timeline.close()
        return len(facts)

    def close(self) -> None:
        self.runner.run(self.upstream.close())
        self.runner.close()


class Service:
    """The app as gunicorn serves it, called through Flask's test client."""

    def __init__(self, url: str) -> None:
        settings = {"upstream_url": url, "rate": RATE, "upstream_timeout": TIMEOUT}
        self.app = create_app(
            {**settings, "max_facts": N, "log_level": "INFO", "unlimited": "open"}
        )
        self.client = self.app.test_client()
        # Its one line per call is written, as served, but not to this table.
        self.devnull = open(os.devnull, "w")  # noqa: SIM115 (closed in `close`)
        handlers = [*logging.getLogger("catfacts").handlers, *logging.getLogger().handlers]
        self.streams = [
            (handler, handler.setStream(self.devnull))
            for handler in handlers
            if isinstance(handler, logging.StreamHandler)
        ]

    def __call__(self) -> int:
        response = self.client.get(f"/cat_async/{N}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return int(response.headers["X-Facts-Returned"])

    def close(self) -> None:
        with self.app.app_context():
            current_services().close()
        for handler, stream in self.streams:
            handler.setStream(stream)
        self.devnull.close()


def measure(run: Callable[[], int]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one run, which must return N facts.

    Each run starts from a collected heap, so a full collection (tens of ms with Flask loaded,
    every few runs) does not land at random in one run or another: what is counted is the
    run's own work, its young collections included.
    """
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    got = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert got == N, f"{got} of {N}"
    return cpu, wall


def compare(runs: dict[str, Callable[[], int]]) -> dict[str, tuple[float, float]]:
    """Median (CPU, wall) of each, interleaved so a noisy moment touches all of them."""
    for _ in range(WARMUP):
        for run in runs.values():
            measure(run)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(RUNS):
        for name, run in runs.items():
            samples[name].append(measure(run))
    return {
        name: (
            statistics.median(cpu for cpu, _ in values),
            statistics.median(wall for _, wall in values),
        )
        for name, values in samples.items()
    }


def main() -> None:
    with EmulatorProcess.start(rate_limit=RATE) as upstream:
        strategy = Strategy(upstream.url)
        bare = BareGather(upstream.url, strategy.upstream.connections)
        service = Service(upstream.url)
        try:
            results = compare({"bare": bare, "strategy": strategy, "service": service})
        finally:
            for closable in (bare, strategy, service):
                closable.close()
    base_cpu, base_wall = results["bare"]
    rows = [
        [
            label,
            f"{cpu * 1000:.0f}",
            f"{cpu / N * 1000:.3f}",
            f"{wall * 1000:.0f}",
            f"{cpu / base_cpu:.2f}",
            f"{wall / base_wall:.2f}",
        ]
        for label, (cpu, wall) in (
            ("bare aiohttp gather", results["bare"]),
            ("the strategy alone (no Flask)", results["strategy"]),
            (f"the service: GET /cat_async/{N}", results["service"]),
        )
    ]
    ratio = results["service"][0] / base_cpu
    print_table(
        f"All at once: CPU of {N} requests, no refusals (medians of {RUNS}; "
        f"service / bare CPU {ratio:.2f}, target at most {TARGET})",
        ["", "CPU ms", "CPU ms / upstream request", "wall ms", "CPU ratio", "wall ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
