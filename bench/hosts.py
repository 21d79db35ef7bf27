"""Many hosts: two service instances of three gunicorn workers each (on 127.0.0.1 and 127.0.0.2,
standing for two machines) share one Redis and one upstream budget. Callers are spread over both.

It prints the makespan against the ideal (the same physical limit as `bench limited`), the
upstream's refusals, the most requests the upstream saw in any window, and the Redis scripts each
request cost, by script (read with MONITOR): every acquire, also those told to wait; releases;
the registry's heartbeats (`view`); a confirmation (`confirm`), which only a request sent long
after its grant needs (a paused worker), so none here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections import Counter
from contextlib import ExitStack

import aiohttp
import redis

from bench.harness import Service, emulator, get_json, median, print_table, redis_server, service
from bench.limited import LATENCY, LIMIT, RATE, WINDOW, fresh_budget, ideal, round_trip
from catfacts.emulator.process import max_in_any_window
from catfacts.limiter.redis import SCRIPTS
from catfacts.limiter.scripts import script_text
from catfacts.strategies import LIMITED

HOSTS, WORKERS = ("127.0.0.1", "127.0.0.2"), 3
CALLERS, EACH = 12, 25  # two calls on every worker of both hosts
RUNS = 3


def main() -> None:
    with redis_server("hosts") as url:
        env = {"CATFACTS_REDIS_URL": url}
        scripts = ScriptCounter(url)
        with emulator(RATE, LATENCY) as upstream, ExitStack() as stack:
            hosts = [
                stack.enter_context(service(upstream, RATE, WORKERS, env=env, host=host))
                for host in HOSTS
            ]
            rtt = asyncio.run(round_trip(hosts[0]))
            asyncio.run(spread(hosts, len(hosts)))  # each worker's first call probes the upstream
            runs = [measured(hosts, scripts) for _ in range(RUNS)]
    report(runs, ideal(CALLERS * EACH, rtt))


def report(runs: list[tuple[float, int, int, int, Counter[str], int]], best: float) -> None:
    wall = median([run[0] for run in runs])
    requests = sum(run[5] for run in runs)
    scripts = sum((run[4] for run in runs), Counter[str]())
    every = scripts.total()
    print_table(
        f"{len(HOSTS)} hosts of {WORKERS} gunicorn workers sharing one Redis, {CALLERS} concurrent "
        f"callers of {EACH} facts (emulator: {RATE}, {LATENCY * 1000:.0f} ms; median of {RUNS})",
        ["makespan s", "ideal s", "over ideal", "exact calls", "429s", f"most in any {WINDOW:g} s"],
        [
            [
                f"{wall:.2f}",
                f"{best:.2f}",
                f"{wall / best:.2f}x",
                f"{sum(run[1] for run in runs)}/{RUNS * CALLERS}",
                sum(run[2] for run in runs),
                f"{max(run[3] for run in runs)} (limit {LIMIT})",
            ]
        ],
    )
    print_table(
        "Redis scripts per upstream request, by script (the same runs)",
        [*SCRIPTS, "all"],
        [[f"{scripts[name] / requests:.2f}" for name in SCRIPTS] + [f"{every / requests:.2f}"]],
    )


def measured(
    hosts: list[Service], scripts: ScriptCounter
) -> tuple[float, int, int, int, Counter[str], int]:
    """One run: makespan, exact calls, 429s, the most in any window, scripts, requests."""
    asyncio.run(fresh_budget(hosts[0]))
    scripts.start()
    wall, exact = asyncio.run(spread(hosts, CALLERS))
    ran = scripts.stop()
    control = hosts[0].emulator
    arrivals = control.arrivals()
    refused = control.stats()["statuses"].get("429", 0)
    return wall, exact, refused, max_in_any_window(arrivals, WINDOW), ran, len(arrivals)


async def spread(hosts: list[Service], callers: int) -> tuple[float, int]:
    """`callers` calls of EACH facts at once, taking turns over the hosts; the time until the
    last has its facts, and how many got exactly EACH."""
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                get_json(session, f"{hosts[i % len(hosts)].url}{LIMITED.path}/{EACH}")
                for i in range(callers)
            )
        )
        elapsed = time.perf_counter() - started
    exact = sum(
        status == 200 and isinstance(body, list) and len(body) == EACH
        for status, body, _ in results
    )
    return elapsed, exact


class ScriptCounter:
    """Counts the limiter's scripts by name as Redis runs them (MONITOR), between `start` and
    `stop`. Only EVALSHA: after the warm-up every process has each script loaded."""

    def __init__(self, url: str) -> None:
        self._names = {  # as the limiter loads them (room.lua before those that need it)
            hashlib.sha1(script_text(name).encode("utf-8")).hexdigest(): name for name in SCRIPTS
        }
        self._client = redis.Redis.from_url(url)
        self._counts: Counter[str] = Counter()
        self._on = False
        threading.Thread(target=self._watch, daemon=True).start()

    def start(self) -> None:
        self._counts.clear()
        self._on = True

    def stop(self) -> Counter[str]:
        self._on = False
        return Counter(self._counts)

    def _watch(self) -> None:
        watching = self._client.monitor()  # type: ignore[no-untyped-call]
        with contextlib.suppress(redis.ConnectionError), watching as monitor:
            for command in monitor.listen():
                words = str(command["command"]).split(maxsplit=2)
                if self._on and words[0].upper() == "EVALSHA":
                    self._counts[self._names.get(words[1], "other")] += 1
