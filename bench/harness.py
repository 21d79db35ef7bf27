"""The parts every benchmark needs: processes to start, CPU to read, tables to print."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import statistics
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.processes import RedisServer, ServiceProcess, catfacts_env, free_port
from catfacts.emulator.process import EmulatorControl, EmulatorProcess

# gunicorn as the README documents it: the project's own gunicorn.conf.py, wherever bench runs.
# The strategies as they are without a bound: all at once past twice the limit (`overdraft.py`).
UNBOUNDED = {"CATFACTS_UNLIMITED_STRATEGIES": "open"}
GUNICORN_CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"

log = logging.getLogger("bench")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, all threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


@dataclass
class Service:
    """The service under gunicorn, and the emulator it fetches from."""

    url: str
    process: ServiceProcess
    emulator: EmulatorControl

    @property
    def workers(self) -> list[int]:
        return children(self.process.process.pid)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.workers)


@contextmanager
def redis_server(section: str) -> Iterator[str]:
    """A private redis-server for one bench section, its URL; stopped however the section ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(f"bench {section}: redis-server is not installed (make test installs it)")
    server = RedisServer(binary)
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@contextmanager
def emulator(rate: str, latency: float, jitter: float = 0.0) -> Iterator[EmulatorControl]:
    process = EmulatorProcess.start(rate_limit=rate, latency=latency, jitter=jitter)
    try:
        yield EmulatorControl(process.url)
    finally:
        process.stop()


@contextmanager
def service(
    upstream: EmulatorControl,
    rate: str,
    workers: int = 1,
    *,
    env: Mapping[str, str] | None = None,
    connections: int = 2,
    host: str = "127.0.0.1",
) -> Iterator[Service]:
    """gunicorn as documented; by default at most 2 connections a worker, so callers spread
    over workers. Another loopback `host` (127.0.0.2, ...) stands for another machine."""
    port = free_port()
    variables = catfacts_env(
        CATFACTS_UPSTREAM_URL=upstream.url, CATFACTS_RATE_LIMIT=rate, **(env or {})
    )
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
    command += ["-w", str(workers), "--worker-connections", str(connections)]
    command += ["-b", f"{host}:{port}"]
    process = ServiceProcess(command, variables)
    try:
        process.wait_for_line("serving on")
        started = Service(f"http://{host}:{port}", process, upstream)
        wait_for_workers(started, workers)
        yield started
    finally:
        process.stop()


def wait_for_workers(started: Service, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(started.workers) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.05)


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, object, float]:
    started = time.perf_counter()
    async with session.get(url) as response:
        body = (
            await response.json(content_type=None)
            if response.content_type.endswith("json")
            else await response.text()
        )
        return response.status, body, time.perf_counter() - started


async def bare_gather(url: str, n: int) -> float:
    """n concurrent GETs from one warm aiohttp session: the floor for the all-at-once strategy."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n)) as session:
        await asyncio.gather(*(session.get(f"{url}/fact") for _ in range(n)))
        started = time.perf_counter()
        responses = await asyncio.gather(*(session.get(f"{url}/fact") for _ in range(n)))
        for response in responses:
            await response.read()
        return time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so it can be pasted into the README as it is."""
    lines = [f"\n### {title}\n", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" for _ in header) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
