"""What timelines cost, and what streaming buys: recording on /cat_async/1000, the first line.

Recording is always on, so its cost is measured against the same strategy with recording off
(a timeline that hands out no attempts), run in this process against the emulator; and, through
the service, what asking for the trace (`?trace=1`) adds. Streaming is measured as a caller sees
it: the time of the first fact line against the time of the whole answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from statistics import fmean as mean
from typing import Any

import aiohttp

from bench.harness import UNBOUNDED, Service, emulator, get_json, median, print_table, service
from catfacts.emulator.process import EmulatorControl
from catfacts.observe.timeline import Attempt, Timeline
from catfacts.strategies import ALL_AT_ONCE, LIMITED, Order
from catfacts.strategies.all_at_once import AllAtOnce
from catfacts.upstream.client import AsyncUpstream

RATE, LATENCY = "100/minute", 0.05  # the README's all-at-once table: 100 facts and 900 429s
N, RUNS = 1000, 60
STREAM_RATE, STREAM_N, STREAM_RUNS = "20/second", 100, 3


class Unrecorded(Timeline):
    """The baseline: the same strategy, its requests never timed (`fetch_fact` gets no attempt)."""

    def attempt(self, index: int, attempt: int = 1, queued: float | None = None) -> Attempt:
        return None  # type: ignore[return-value]


async def one_run(strategy: AllAtOnce, control: EmulatorControl, record: bool) -> list[float]:
    control.reset()
    timeline = (Timeline if record else Unrecorded)("all_at_once", N, "bench", (100, 60.0))
    cpu, wall = time.process_time(), time.perf_counter()
    facts = await strategy.fetch(Order(N, timeline))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(facts) == 100
    return [wall, cpu]


def turns(rounds: int) -> list[tuple[bool, ...]]:
    """Off-on, then on-off. The second run of a pair is often slower (the emulator), so each
    variant goes first as often as second, and the means (not the medians, which jump between
    the two modes) cancel that out."""
    return [(False, True) if turn % 2 == 0 else (True, False) for turn in range(rounds)]


async def recording_cost(control: EmulatorControl) -> dict[bool, list[list[float]]]:
    """Runs with and without recording, interleaved."""
    upstream = AsyncUpstream(control.url, timeout=5.0)
    runs: dict[bool, list[list[float]]] = {True: [], False: []}
    try:
        strategy = AllAtOnce(upstream)
        await one_run(strategy, control, True)  # warm the connection pool
        for pair in turns(RUNS):
            for record in pair:
                runs[record].append(await one_run(strategy, control, record))
    finally:
        await upstream.close()
    return runs


async def trace_cost(svc: Service) -> dict[str, float]:
    """Through the service: /cat_async/1000 plain and with ?trace=1, interleaved."""
    times: dict[bool, list[float]] = {False: [], True: []}
    async with aiohttp.ClientSession() as session:
        await get_json(session, f"{svc.url}/hello/")
        for pair in turns(RUNS):
            for trace in pair:
                svc.emulator.reset()
                url = f"{svc.url}{ALL_AT_ONCE.path}/{N}{'?trace=1' if trace else ''}"
                times[trace].append((await get_json(session, url))[2])
    return {("?trace=1" if trace else ""): mean(values) for trace, values in times.items()}


async def first_line(svc: Service) -> dict[str, float]:
    """A streamed limited call: when its first fact line and its summary arrive."""
    async with aiohttp.ClientSession() as session:
        await asyncio.sleep(1.1)  # a fresh budget
        started = time.perf_counter()
        first: float | None = None
        path = f"{svc.url}{LIMITED.path}/{STREAM_N}"
        async with session.get(path, headers={"Accept": "application/x-ndjson"}) as response:
            async for raw in response.content:
                line: dict[str, Any] = json.loads(raw)
                if first is None and "fact" in line:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
        assert first is not None and "summary" in line
        await asyncio.sleep(1.1)
        plain = (await get_json(session, path))[2]
    return {"first": first, "total": total, "plain": plain}


def recording_alone(rounds: int = 200) -> float:
    """CPU seconds to record N requests (queued, sent, answered), without any network."""
    started = time.process_time()
    for _ in range(rounds):
        timeline = Timeline("all_at_once", N, "bench", (100, 60.0))
        for index in range(1, N + 1):
            attempt = timeline.attempt(index)
            attempt.send()
            attempt.answer(200, "ok")
    return (time.process_time() - started) / rounds


def row(name: str, off: float, on: float) -> list[str]:
    return [name, f"{off * 1000:.1f}", f"{on * 1000:.1f}", f"{(on / off - 1) * 100:+.1f}%"]


def main() -> None:
    with emulator(RATE, LATENCY) as upstream:
        runs = asyncio.run(recording_cost(upstream))
        with service(upstream, RATE, env=UNBOUNDED) as svc:
            served = asyncio.run(trace_cost(svc))
    walls = {record: mean([r[0] for r in runs[record]]) for record in runs}
    cpus = {record: mean([r[1] for r in runs[record]]) for record in runs}
    alone = recording_alone()
    print_table(
        f"Recording the timeline of {ALL_AT_ONCE.path}/{N} "
        f"(emulator: {RATE}, {LATENCY * 1000:.0f} ms; means of {RUNS})",
        ["", "without", "with", "overhead"],
        [
            row("recording: the strategy's wall ms", walls[False], walls[True]),
            row("recording: the strategy's CPU ms", cpus[False], cpus[True]),
            row("?trace=1: the service's answer, wall ms", served[""], served["?trace=1"]),
            ["recording alone: CPU ms", "", f"{alone * 1000:.2f}", f"{alone / cpus[False]:+.1%}"],
        ],
    )
    with (
        emulator(STREAM_RATE, LATENCY) as upstream,
        service(upstream, STREAM_RATE, env=UNBOUNDED) as svc,
    ):
        lines = [asyncio.run(first_line(svc)) for _ in range(STREAM_RUNS)]
    first, total, plain = (median([r[key] for r in lines]) for key in ("first", "total", "plain"))
    print_table(
        f"Streaming {LIMITED.path}/{STREAM_N} (emulator: {STREAM_RATE}, "
        f"{LATENCY * 1000:.0f} ms; medians of {STREAM_RUNS})",
        ["first fact line ms", "summary line ms", "plain JSON answer ms"],
        [[f"{first * 1000:.0f}", f"{total * 1000:.0f}", f"{plain * 1000:.0f}"]],
    )
