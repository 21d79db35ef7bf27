"""How true the estimates come: the first `eta` a streamed limited call gives, and its
`X-Facts-Estimate` header, against when the call really ended.

Three cases, each on a fresh budget: one caller; ten callers sharing one worker's budget; ten
callers spread over two gunicorn workers sharing Redis (the estimate must see the other worker's
queue). The error is |estimate - actual| / actual: for an `eta`, the time left from its line to
the summary; for the header, the whole call. Callers that start together cannot know of each
other until all are in: the first line of an early caller, and its header, are estimates for a
budget that others then come to share (turns are fair, so they lengthen its call). So besides the
first line, the table gives the first line each call streamed once all the callers were let in
(the last of their answers had begun) and every worker had looked at the shared budget since
(`HEARD`, two looks).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

from bench.harness import Service, emulator, print_table, redis_server, service
from bench.limited import JITTER, LATENCY, RATE, fresh_budget
from catfacts.strategies import LIMITED, NDJSON
from catfacts.strategies.limited.surveys import EVERY

# Every worker hears of every call within one look at the shared budget (`surveys.EVERY`).
HEARD = 2 * EVERY
CASES = [  # (name, workers, callers, facts each, runs)
    ("one caller", 1, 1, 100, 3),
    ("ten callers, one worker", 1, 10, 20, 2),
    ("ten callers, two workers, Redis", 2, 10, 20, 2),
]


def main() -> None:
    rows = []
    with redis_server("eta") as url:
        for name, workers, callers, each, runs in CASES:
            env = {"CATFACTS_REDIS_URL": url} if workers > 1 else {}
            rows.append([name, *measure(workers, callers, each, runs, env)])
    print_table(
        f"How true the estimates come (emulator: {RATE}, {LATENCY * 1000:.0f} ms); "
        "error = |estimate - actual| / actual",
        [
            "case",
            "calls",
            "actual s (median)",
            "first line's eta: median error",
            "worst",
            f"first eta {HEARD:g} s after all are in: median",
            "worst",
            "X-Facts-Estimate: median",
            "worst",
        ],
        rows,
    )


def measure(workers: int, callers: int, each: int, runs: int, env: dict[str, str]) -> list[object]:
    """Calls, median actual s, the first eta's median and worst error, the header's."""
    calls: list[Call] = []
    with (
        emulator(RATE, LATENCY, JITTER) as upstream,
        service(upstream, RATE, workers, env=env, connections=callers) as svc,
    ):
        for _ in range(runs):
            calls += asyncio.run(together(svc, callers, each))
    last_in = {call.run: max(c.admitted for c in calls if c.run == call.run) for call in calls}
    all_in = [call.error_after(last_in[call.run] + HEARD) for call in calls]
    return [
        len(calls),
        f"{statistics.median(call.ended - call.started for call in calls):.2f}",
        *_spread([call.error_after(call.started) for call in calls]),
        *_spread(all_in),
        *_spread([call.header_error for call in calls]),
    ]


@dataclass
class Call:
    """One streamed call as its caller saw it: when it began, was let in (its answer began) and
    ended, the header, and every line's (time, eta)."""

    run: float
    started: float
    admitted: float = 0.0
    ended: float = 0.0
    header: float = 0.0
    etas: list[tuple[float, float]] = field(default_factory=list)

    def error_after(self, moment: float) -> float | None:
        """The error of the first eta streamed at or after `moment` (None: it had ended)."""
        at, eta = next(((at, eta) for at, eta in self.etas if at >= moment), (self.ended, 0.0))
        left = self.ended - at
        return abs(eta - left) / left if left > 0.01 else None

    @property
    def header_error(self) -> float:
        whole = self.ended - self.started
        return abs(self.header - whole) / whole


async def together(svc: Service, callers: int, each: int) -> list[Call]:
    """All callers start together."""
    await fresh_budget(svc)
    run = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=callers)) as session:
        return await asyncio.gather(*(streamed(session, svc, each, run) for _ in range(callers)))


async def streamed(session: aiohttp.ClientSession, svc: Service, n: int, run: float) -> Call:
    call = Call(run, time.perf_counter())
    async with session.get(f"{svc.url}{LIMITED.path}/{n}", headers={"Accept": NDJSON}) as answer:
        call.admitted = time.perf_counter()
        call.header = float(answer.headers["X-Facts-Estimate"])
        async for raw in answer.content:
            line = json.loads(raw)
            call.etas.append((time.perf_counter(), line["eta"]))
    call.ended = time.perf_counter()
    assert "summary" in line, line
    return call


def _spread(errors: list[float | None]) -> list[str]:
    """The median and the worst, in percent, of the calls that had an estimate then."""
    known = [error for error in errors if error is not None]
    return [f"{statistics.median(known) * 100:.1f}%", f"{max(known) * 100:.1f}%"]
