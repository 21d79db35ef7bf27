"""The limited strategy under load: one worker served as `make run` serves it, many callers.

Per run: what the callers get (makespan, exact n), what the upstream serves (429s), what everyone
else gets meanwhile (a /hello/ prober, a small call made 1 s in), and what the worker pays
(threads and memory, read from /proc). Then the same run with the old fixed pool of 8 threads.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.harness import GUNICORN_CONF, Service, emulator, print_table, wait_for_workers
from bench.limited import ideal, round_trip
from bench.processes import ServiceProcess, catfacts_env, free_port
from catfacts.emulator.process import EmulatorControl
from catfacts.strategies import LIMITED

RATE, LIMIT, WINDOW = "100/second", 100, 1.0
LATENCY, JITTER = 0.05, 0.02
CASES = [(10, 50), (10, 100), (50, 10), (50, 20), (200, 3), (200, 5)]  # (callers, n per caller)
CONTRAST = (50, 10)  # the run repeated with the old pool of 8 threads
OLD_THREADS = 8
SMALL, SMALL_AFTER = 3, 1.0  # the small call: its n, and when it starts into the run
PROBE_EVERY, PROBE_TIMEOUT, MAX_PROBES = 0.05, 5.0, 5000  # 5000: over 4 minutes' worth
SAMPLE_EVERY = 0.1
CALL_TIMEOUT = 90.0  # any one call; the longest run here needs about 11 s
SETTLE = 1.0  # seconds after a run before the "after" reading of threads and memory


@dataclass
class Reading:
    threads: int
    rss_mib: float


def read_status(pid: int) -> Reading:
    """Threads and resident memory of one process, from /proc/<pid>/status."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Reading(int(fields["Threads"]), int(fields["VmRSS"].split()[0]) / 1024)


class Sampler:
    """Reads a process's threads and memory every SAMPLE_EVERY seconds; keeps the peaks."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = read_status(pid)
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            try:
                now = read_status(self.pid)
            except (OSError, KeyError, ValueError):
                return  # the worker is gone: the run itself reports the failure
            self.samples += 1
            self.peak = Reading(
                max(self.peak.threads, now.threads), max(self.peak.rss_mib, now.rss_mib)
            )


@dataclass
class Probes:
    """/hello/ latencies in seconds; a probe without an answer within PROBE_TIMEOUT is inf."""

    seconds: list[float] = field(default_factory=list)
    timeouts: int = 0
    errors: int = 0

    def percentile(self, q: float) -> str:
        if not self.seconds:
            return "none"
        ordered = sorted(self.seconds)
        value = ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank
        return "timeout" if math.isinf(value) else f"{value * 1000:.1f}"

    def worst(self) -> str:
        return self.percentile(1.0)

    def count(self) -> str:
        lost = f"{self.timeouts} timed out" + (f", {self.errors} failed" if self.errors else "")
        return f"{len(self.seconds)} ({lost})"


@dataclass
class Answer:
    status: int  # 0: no answer (timeout or connection error)
    facts: int
    seconds: float
    ended: float  # perf_counter when the answer was read


@dataclass
class Run:
    callers: int
    n: int
    rtt: float
    makespan: float
    answers: list[Answer]
    small: Answer
    probes: Probes
    refused: int
    before: Reading
    peak: Reading
    after: Reading

    def exact(self) -> str:
        exact = sum(a.status == 200 and a.facts == self.n for a in self.answers)
        text = f"{exact}/{self.callers}"
        others = Counter(a.status for a in self.answers if a.status != 200)
        short = sum(a.status == 200 and a.facts != self.n for a in self.answers)
        notes = [f"{count} x {status or 'no answer'}" for status, count in sorted(others.items())]
        notes += [f"{short} short"] if short else []
        return text + (f" ({', '.join(notes)})" if notes else "")

    def small_wait(self) -> str:
        if self.small.status == 200 and self.small.facts == SMALL:
            return f"{self.small.seconds:.2f}"
        return f"{self.small.seconds:.2f} ({self.small.status or 'no answer'}, {self.small.facts})"

    def fair_share(self) -> float:
        """One turn per round of callers + 1 calls, L calls' worth per W: SMALL such rounds."""
        return max(SMALL * (self.callers + 1) / (LIMIT / WINDOW), self.rtt)


@contextmanager
def served(upstream: EmulatorControl, *gunicorn_flags: str, **env: str) -> Iterator[Service]:
    """One worker with `make run`'s defaults, against `upstream` at RATE.

    With no flags this is what `make run` runs (`python -m catfacts`); with flags it is gunicorn
    with the same config file, whose command-line flags win over the file.
    """
    port = free_port()
    variables = catfacts_env(
        CATFACTS_UPSTREAM_URL=upstream.url,
        CATFACTS_RATE_LIMIT=RATE,
        CATFACTS_PORT=str(port),
        **env,
    )
    command = [sys.executable, "-m", "catfacts"]
    if gunicorn_flags:
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
        command += [*gunicorn_flags]
    process = ServiceProcess(command, variables)
    try:
        process.wait_for_line("serving on")
        started = Service(f"http://127.0.0.1:{port}", process, upstream)
        wait_for_workers(started, 1)
        yield started
    finally:
        process.stop()


async def fetch(
    session: aiohttp.ClientSession, url: str, request_id: str, timeout: float
) -> Answer:
    started = time.perf_counter()
    headers = {"X-Request-ID": request_id}
    try:
        async with asyncio.timeout(timeout), session.get(url, headers=headers) as response:
            status, raw = response.status, await response.read()
        body = json.loads(raw) if status == 200 else None
        facts = len(body) if isinstance(body, list) else 0
    except (TimeoutError, aiohttp.ClientError):
        status, facts = 0, 0
    ended = time.perf_counter()
    return Answer(status, facts, ended - started, ended)


async def probe(url: str, tag: str, done: asyncio.Event) -> Probes:
    """/hello/ every PROBE_EVERY seconds on the clock, answered or not, until `done`.

    Not one after another: a prober that waits for each answer sends nothing while /hello/ is
    stuck, so a stall of seconds would count as one slow probe among many fast ones.
    """
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sent: list[asyncio.Task[tuple[float, str]]] = []
        started = time.perf_counter()
        for number in range(MAX_PROBES):
            if done.is_set():
                break
            sent.append(
                asyncio.create_task(hello(session, f"{url}/hello/", f"{tag}-hello-{number}"))
            )
            await asyncio.sleep(
                max(0.0, started + (number + 1) * PROBE_EVERY - time.perf_counter())
            )
        outcomes = await asyncio.gather(*sent)
    probes = Probes([seconds for seconds, _ in outcomes])
    probes.timeouts = sum(kind == "timeout" for _, kind in outcomes)
    probes.errors = sum(kind == "error" for _, kind in outcomes)
    return probes


async def hello(session: aiohttp.ClientSession, url: str, request_id: str) -> tuple[float, str]:
    """Seconds one /hello/ took, or inf with why it got no answer.

    asyncio's timeout, not aiohttp's: aiohttp rounds a timeout of 5 s or more up to the next
    whole second of the loop's clock, so a 5 s probe could wait almost 6.
    """
    started = time.perf_counter()
    headers = {"X-Request-ID": request_id}
    try:
        async with asyncio.timeout(PROBE_TIMEOUT), session.get(url, headers=headers) as response:
            await response.read()
            if response.status != 200:
                return math.inf, "error"
    except TimeoutError:
        return math.inf, "timeout"
    except aiohttp.ClientError:
        return math.inf, "error"
    return time.perf_counter() - started, "ok"


async def small_call(session: aiohttp.ClientSession, url: str, tag: str) -> Answer:
    await asyncio.sleep(SMALL_AFTER)
    return await fetch(session, f"{url}{LIMITED.path}/{SMALL}", f"{tag}-small", CALL_TIMEOUT)


async def load(svc: Service, callers: int, n: int, rtt: float, tag: str) -> Run:
    """`callers` calls of n facts started together, a prober and a small call alongside."""
    await asyncio.sleep(WINDOW * 1.1)  # the ideal assumes a fresh budget: let every slot free
    svc.emulator.reset()
    (worker,) = svc.workers
    before = read_status(worker)
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)  # one connection per caller, none waits for one
    with Sampler(worker) as sampler:
        async with aiohttp.ClientSession(connector=connector) as session:
            prober = asyncio.create_task(probe(svc.url, tag, done))
            started = time.perf_counter()
            small = asyncio.create_task(small_call(session, svc.url, tag))
            answers = await asyncio.gather(
                *(
                    fetch(session, f"{svc.url}{LIMITED.path}/{n}", f"{tag}-{i}", CALL_TIMEOUT)
                    for i in range(callers)
                )
            )
            small_answer = await small
            done.set()
            probes = await asyncio.wait_for(prober, PROBE_TIMEOUT + 5)
        await asyncio.sleep(SETTLE)
    after = read_status(worker)
    refused = int(svc.emulator.stats()["statuses"].get("429", 0))
    makespan = max(a.ended for a in answers) - started
    return Run(
        callers,
        n,
        rtt,
        makespan,
        answers,
        small_answer,
        probes,
        refused,
        before,
        sampler.peak,
        after,
    )


async def warm_up(svc: Service) -> float:
    """The round trip for the ideal, and the first limited call (it probes the upstream once)."""
    rtt = await round_trip(svc, LIMIT)
    async with aiohttp.ClientSession() as session:
        answer = await fetch(session, f"{svc.url}{LIMITED.path}/1", "load-warm-up", 30)
    if answer.status != 200:
        raise RuntimeError(f"the warm-up call got {answer.status}")
    return rtt


def measure(upstream: EmulatorControl, callers: int, n: int, *flags: str, **env: str) -> Run:
    """A fresh worker for each run, so its threads and memory start from a warm idle state."""
    tag = f"load-{callers}x{n}" + ("-old" if flags else "")
    with served(upstream, *flags, **env) as svc:
        rtt = asyncio.run(asyncio.wait_for(warm_up(svc), 60))
        return asyncio.run(asyncio.wait_for(load(svc, callers, n, rtt, tag), CALL_TIMEOUT + 30))


def triple(before: float, peak: float, after: float, digits: int) -> str:
    return f"{before:.{digits}f} / {peak:.{digits}f} / {after:.{digits}f}"


def load_row(run: Run) -> list[object]:
    best = ideal(run.callers * run.n + SMALL, run.rtt, LIMIT, WINDOW)
    return [
        run.callers,
        run.n,
        f"{run.makespan:.2f}",
        f"{best:.2f}",
        f"{(run.makespan / best - 1) * 100:+.1f}%",
        run.exact(),
        run.refused,
        run.probes.percentile(0.5),
        run.probes.percentile(0.99),
        run.probes.worst(),
        run.probes.count(),
        run.small_wait(),
        f"{run.fair_share():.2f}",
        triple(run.before.threads, run.peak.threads, run.after.threads, 0),
        triple(run.before.rss_mib, run.peak.rss_mib, run.after.rss_mib, 1),
    ]


def contrast_row(name: str, run: Run) -> list[object]:
    return [
        name,
        run.peak.threads,
        f"{run.makespan:.2f}",
        run.exact(),
        run.refused,
        run.probes.percentile(0.5),
        run.probes.percentile(0.99),
        run.probes.worst(),
        run.probes.count(),
        run.small_wait(),
        f"{run.fair_share():.2f}",
    ]


def main() -> None:
    with emulator(RATE, LATENCY, JITTER) as upstream:
        runs = [measure(upstream, callers, n) for callers, n in CASES]
        old = measure(
            upstream, *CONTRAST, "--threads", str(OLD_THREADS), CATFACTS_MAX_CALLS="100000"
        )
    setting = f"emulator: {RATE}, {LATENCY * 1000:.0f}±{JITTER * 1000:.0f} ms"
    print_table(
        f"Limited under load: one worker as `make run` serves it ({setting})",
        [
            "callers",
            "n",
            "makespan s",
            "ideal s",
            "over ideal",
            "exact calls",
            "429s served",
            "/hello/ p50 ms",
            "/hello/ p99 ms",
            "/hello/ worst ms",
            "/hello/ probes",
            f"n={SMALL} call at {SMALL_AFTER:g} s: wait s",
            "its fair share s",
            "worker threads before / peak / after",
            "worker RSS MiB before / peak / after",
        ],
        [load_row(run) for run in runs],
    )
    now = next(run for run in runs if (run.callers, run.n) == CONTRAST)
    print_table(
        f"The same {CONTRAST[0]} callers x {CONTRAST[1]} facts, now and with the old "
        f"{OLD_THREADS} threads ({setting}; /hello/ times out after {PROBE_TIMEOUT:g} s)",
        [
            "worker",
            "peak threads",
            "makespan s",
            "exact calls",
            "429s served",
            "/hello/ p50 ms",
            "/hello/ p99 ms",
            "/hello/ worst ms",
            "/hello/ probes",
            f"n={SMALL} call: wait s",
            "its fair share s",
        ],
        [
            contrast_row("now: `make run` (threads = CATFACTS_MAX_CALLS + 16), run above", now),
            contrast_row(f"before: `--threads {OLD_THREADS}`, CATFACTS_MAX_CALLS=100000", old),
        ],
    )
