"""Soak: does every process of `make run` keep flat memory, file descriptors and threads?

`python -m catfacts`, as `make run` starts it (gunicorn's master, its worker and the embedded Cat
Facts API), with CATFACTS_RATE_LIMIT=2000/second. A warm-up of SOAK_WARMUP limited calls of
SOAK_FACTS facts, then SOAK_CALLS more, SOAK_CONCURRENCY at a time. Each call has `?trace=1`, an
X-Request-ID of its own, and comes from the next of SOAK_CLIENTS loopback addresses (127.20.x.y:
the service keys its callers by the connection's address and ignores X-Forwarded-For, so each
call opens its own connection bound to its address). After the warm-up and at the end, each
process's resident memory (VmRSS), open file descriptors and threads are read from /proc.

The defaults are the measurement of issue 18: 4,000 calls of warm-up, then 20,000 from 6,000
addresses, 16 at a time; each process must grow by at most 2 MiB over them. SOAK_CALLS=2000
(and a smaller SOAK_WARMUP) gives a quick look. It stands alone: nothing from
`tests`; its port and table are the bench's own (`bench.processes`, `bench.harness`).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.harness import print_table
from bench.processes import catfacts_env, free_port

RATE = "2000/second"
WARMUP = int(os.environ.get("SOAK_WARMUP", "4000"))
CALLS = int(os.environ.get("SOAK_CALLS", "20000"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "6000"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "16"))
FACTS = int(os.environ.get("SOAK_FACTS", "5"))
LOG_LEVEL = os.environ.get("SOAK_LOG_LEVEL", "INFO")  # `make run`'s: every upstream request logged
STEPS = 5  # readings between the warm-up and the end, for the trend
BUDGET_MIB = 2.0  # issue 18: the most any process may grow over the calls after the warm-up
SETTLE = 1.0  # seconds after a batch of calls before reading /proc
START_TIMEOUT = 30.0
CALL_TIMEOUT = 60.0
MIB = 1024 * 1024


@dataclass
class Run:
    """What a soak run measured."""

    pids: dict[str, int]
    trend: list[tuple[int, dict[str, Reading]]]  # (calls after the warm-up, each process)
    sizes: dict[str, object] | None  # the embedded upstream's structures at the end
    warmup_seconds: float
    run_seconds: float


@dataclass(frozen=True)
class Reading:
    """One process at one time: resident memory, open file descriptors, threads."""

    rss: int  # bytes
    fds: int
    threads: int


def read(pid: int) -> Reading:
    """VmRSS from /proc/<pid>/status, and the entries of /proc/<pid>/fd and /proc/<pid>/task."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    rss = int(match.group(1)) * 1024 if match else 0
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return Reading(rss, fds, threads)


def address(index: int) -> str:
    """The `index`th client address: 127.20.0.1 to 127.20.0.250, 127.20.1.1, and so on.

    All of 127.0.0.0/8 is the loopback interface on Linux, so a socket can bind any of them.
    """
    block, host = divmod(index, 250)
    return f"127.{20 + block // 256}.{block % 256}.{host + 1}"


class Service:
    """`python -m catfacts` in a child process, its output drained (the last lines kept)."""

    def __init__(self, port: int) -> None:
        env = catfacts_env()
        env |= {
            "CATFACTS_RATE_LIMIT": RATE,
            "CATFACTS_HOST": "127.0.0.1",
            "CATFACTS_PORT": str(port),
            "CATFACTS_LOG_LEVEL": LOG_LEVEL,
        }
        self.url = f"http://127.0.0.1:{port}"
        self.upstream_url: str | None = None
        self.tail: deque[str] = deque(maxlen=40)
        self._serving = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "catfacts"],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        upstream = re.compile(r"embedded Cat Facts API listening on (\S+)")
        for line in self.process.stdout:
            self.tail.append(line)
            if self.upstream_url is None and (match := upstream.search(line)):
                self.upstream_url = match.group(1)
            if "serving on" in line:
                self._serving.set()

    def wait_until_serving(self) -> None:
        if not self._serving.wait(START_TIMEOUT):
            raise RuntimeError(f"the service did not start:\n{''.join(self.tail)}")
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.processes()) < 3:  # the master, a worker, the embedded upstream
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the service's processes did not start:\n{''.join(self.tail)}")
            time.sleep(0.05)

    def processes(self) -> dict[str, int]:
        """The master, its worker(s) and the embedded upstream, by role."""
        master = self.process.pid
        found = {"master": master}
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        workers = 0
        for child in map(int, children):
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                if b"catfacts.emulator" in command:
                    found["embedded upstream"] = child
                else:
                    workers += 1
                    found[f"worker {workers}" if workers > 1 else "worker"] = child
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)


class Caller:
    """Makes the numbered calls, each from its own address, with its own request id."""

    def __init__(self, port: int, run: str) -> None:
        self.port = port
        self.run = run
        self.statuses: Counter[int | str] = Counter()
        self._lock = threading.Lock()

    def call(self, number: int) -> None:
        connection = http.client.HTTPConnection(
            "127.0.0.1",
            self.port,
            timeout=CALL_TIMEOUT,
            source_address=(address(number % CLIENTS), 0),
        )
        outcome: int | str
        try:
            connection.request(
                "GET",
                f"/cat_async_limited/{FACTS}?trace=1",
                headers={"X-Request-ID": f"soak-{self.run}-{number}"},
            )
            response = connection.getresponse()
            body = response.read()
            outcome = response.status
            if outcome == 200 and len(json.loads(body)["facts"]) != FACTS:
                outcome = "200, too few facts"
        except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
            outcome = type(error).__name__
        finally:
            connection.close()
        with self._lock:
            self.statuses[outcome] += 1

    def calls(self, numbers: Sequence[int]) -> None:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for _ in pool.map(self.call, numbers):
                pass


def upstream_sizes(url: str | None) -> dict[str, object] | None:
    """The embedded upstream's own account of its structures, if it gives one."""
    if url is None:
        return None
    try:
        with urllib.request.urlopen(f"{url}/__emulator__/sizes", timeout=5) as answer:
            sizes: dict[str, object] = json.load(answer)
            return sizes
    except (OSError, ValueError):
        return None


def readings(service: Service) -> dict[str, Reading]:
    time.sleep(SETTLE)
    return {role: read(pid) for role, pid in service.processes().items()}


def batches(start: int, count: int, steps: int) -> Iterator[range]:
    edges = [start + count * step // steps for step in range(steps + 1)]
    for low, high in itertools.pairwise(edges):
        yield range(low, high)


def main() -> None:
    port = free_port()
    service = Service(port)
    try:
        service.wait_until_serving()
        caller = Caller(port, run=f"{os.getpid()}")
        started = time.monotonic()
        caller.calls(range(WARMUP))
        warmed_at = time.monotonic()
        warm = readings(service)
        trend: list[tuple[int, dict[str, Reading]]] = [(0, warm)]
        for batch in batches(WARMUP, CALLS, STEPS):
            caller.calls(batch)
            trend.append((batch.stop - WARMUP, readings(service)))
        run = Run(
            pids=service.processes(),
            trend=trend,
            sizes=upstream_sizes(service.upstream_url),
            warmup_seconds=warmed_at - started,
            run_seconds=time.monotonic() - warmed_at,
        )
    finally:
        service.stop()
    report(caller, run)


def report(caller: Caller, run: Run) -> None:
    warm, end, run_seconds = run.trend[0][1], run.trend[-1][1], run.run_seconds
    rows = []
    for role, pid in run.pids.items():
        before, after = warm[role], end[role]
        growth = after.rss - before.rss
        per_10k = growth / max(CALLS, 1) * 10_000
        verdict = "ok" if growth <= BUDGET_MIB * MIB else f"over {BUDGET_MIB:g} MiB"
        rows.append(
            [
                role,
                pid,
                f"{before.rss / MIB:.1f}",
                f"{after.rss / MIB:.1f}",
                f"{growth / MIB:+.2f}",
                f"{per_10k / MIB:+.2f}",
                f"{before.fds} -> {after.fds}",
                f"{before.threads} -> {after.threads}",
                verdict,
            ]
        )
    title = (
        f"Soak: `make run` at {RATE}; after {WARMUP:,} calls of warm-up, {CALLS:,} limited calls "
        f"of {FACTS} facts from {CLIENTS:,} addresses, {CONCURRENCY} at a time, ?trace=1, "
        f"distinct X-Request-IDs ({run_seconds:.0f} s, {CALLS / max(run_seconds, 1e-9):.0f} "
        f"calls/s; warm-up {run.warmup_seconds:.0f} s)"
    )
    header = ["process", "pid", "RSS after warm-up MiB", "RSS at end MiB", "growth MiB"]
    header += ["per 10,000 calls MiB", "fds", "threads", f"budget {BUDGET_MIB:g} MiB"]
    print_table(title, header, rows)
    roles = list(run.pids)
    print_table(
        "Soak: resident memory (MiB) by calls made after the warm-up",
        ["calls", *roles],
        [
            [f"{calls:,}", *(f"{at[role].rss / MIB:.2f}" for role in roles if role in at)]
            for calls, at in run.trend
        ],
    )
    answers = ", ".join(f"{outcome}: {count:,}" for outcome, count in caller.statuses.items())
    lines = [f"\nAnswers: {answers}\n"]
    if run.sizes is not None:
        lines.append(f"Embedded upstream's structures at the end: {json.dumps(run.sizes)}\n")
    sys.stdout.write("".join(lines))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
