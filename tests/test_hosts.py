"""Many hosts: two service instances of three gunicorn workers each, on two loopback addresses,
share one Redis and one upstream budget. Every caller gets exactly its facts, the upstream never
refuses, and each client (told apart by its address) gets an equal share across all six workers,
whichever workers its calls landed on. A worker paused (SIGSTOP) right after it was granted a
slot, past the slot's lease, checks that the slot is still its own before it sends.

The makespan against the ideal, for the same two hosts: `python -m bench hosts`."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import urllib3

from bench.processes import ServiceProcess, catfacts_env, free_port
from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from tests.support import wait_for_http, wait_until

LIMIT, WINDOW = 30, 1.0  # per second, the emulator's and the service's
HOSTS, WORKERS = ("127.0.0.1", "127.0.0.2"), 3
# Four clients, each wanting 60 facts in its own number of calls: 12 calls, 6 on each host,
# 2 on each worker (2 connections a worker). Fair per call would serve the client with six
# calls six times as fast as the one with one; fair per client serves all four alike.
CLIENTS = {"127.0.0.3": (6, 10), "127.0.0.4": (3, 20), "127.0.0.5": (2, 30), "127.0.0.6": (1, 60)}
EACH_CLIENT = 60
TOLERANCE = 0.25  # each client's share while all compete, against the largest
TIMEOUT = 1.0  # the upstream time-out: a slot's lease is TIMEOUT + LEASE_MARGIN = 2 s

StartHosts = Callable[..., list[tuple[str, ServiceProcess]]]


@pytest.fixture
def hosts(emulator: EmulatorProcess, redis_url: str) -> Iterator[StartHosts]:
    """`start(config, **env)` starts two instances of `WEB_CONCURRENCY=3` gunicorn workers, one
    on each address, with gunicorn's `config`, sharing the test's Redis; returns their URLs."""
    emulator.control.configure(rate_limit=f"{LIMIT}/second")
    started: list[ServiceProcess] = []

    def start(config: str = "gunicorn.conf.py", **env: str) -> list[tuple[str, ServiceProcess]]:
        urls = []
        for host in HOSTS:
            port = free_port()
            variables = catfacts_env(
                CATFACTS_UPSTREAM_URL=emulator.url,
                CATFACTS_RATE_LIMIT=f"{LIMIT}/second",
                CATFACTS_REDIS_URL=redis_url,
                CATFACTS_UPSTREAM_TIMEOUT=str(TIMEOUT),
                CATFACTS_HOST=host,
                CATFACTS_PORT=str(port),
                WEB_CONCURRENCY=str(WORKERS),
                **env,
            )
            command = [sys.executable, "-m", "gunicorn", "-c", config]
            command += ["--worker-connections", "2"]
            service = ServiceProcess(command, variables)
            started.append(service)
            urls.append((f"http://{host}:{port}", service))
        for url, service in urls:
            for _ in range(WORKERS):
                service.wait_for_line(r"Booting worker with pid")
            wait_for_http(f"{url}/hello/")
        return urls

    yield start
    for service in started:
        service.stop()


def served_by(service: ServiceProcess) -> set[str]:
    """The pids of the workers that served limited calls (from the log, once stopped)."""
    return set(re.findall(r" (\d+) \[\S+\] catfacts.web.views: /cat_async_limited", service.output))


def sent_for(stats: dict[str, Any], prefix: str) -> int:
    by_request_id = stats["by_request_id"].items()
    return sum(sum(statuses.values()) for rid, statuses in by_request_id if rid.startswith(prefix))


def sent_until(
    emulator: EmulatorProcess, condition: Callable[[dict[str, int]], bool]
) -> dict[str, int]:
    """The requests the emulator saw from each client, as soon as `condition` holds of them."""
    deadline = time.monotonic() + 30
    while True:
        stats = emulator.control.stats()
        sent = {client: sent_for(stats, f"{client}-") for client in CLIENTS}
        if condition(sent):
            return sent
        assert time.monotonic() < deadline, sent
        time.sleep(0.01)


def call(url: str, client: str, n: int, request_id: str) -> tuple[int, Any]:
    pool = urllib3.PoolManager(retries=False, timeout=60, source_address=(client, 0))
    response = pool.request(
        "GET", f"{url}/cat_async_limited/{n}", headers={"X-Request-ID": request_id}
    )
    return response.status, json.loads(response.data)


def test_two_hosts_of_three_workers_are_exact_within_the_limit_and_fair_per_client(
    hosts: StartHosts, emulator: EmulatorProcess
) -> None:
    started = hosts()
    calls = [
        (client, n, f"{client}-{i}") for client, (count, n) in CLIENTS.items() for i in range(count)
    ]
    with ThreadPoolExecutor(len(calls)) as threads:
        futures = [
            threads.submit(call, started[i % 2][0], client, n, request_id)
            for i, (client, n, request_id) in enumerate(calls)
        ]
        # From when every client has had a request (each worker's first call sends one probe
        # and waits for its answer first) until the first client has all it wanted, all four
        # compete for every slot.
        first = sent_until(emulator, lambda sent: min(sent.values()) >= 1)
        last = sent_until(emulator, lambda sent: max(sent.values()) >= EACH_CLIENT)
        results = [future.result() for future in futures]
    for (_, n, request_id), (status, facts) in zip(calls, results, strict=True):
        assert status == 200, (request_id, facts)
        assert isinstance(facts, list) and len(facts) == n
    assert emulator.control.stats()["statuses"] == {"200": len(CLIENTS) * EACH_CLIENT}
    assert max_in_any_window(emulator.control.arrivals(), WINDOW) <= LIMIT
    # Equal shares per client across the six workers, not per call (then the client with six
    # calls would have six requests for each one of the client with a single call).
    shares = {client: last[client] - first[client] for client in CLIENTS}
    assert min(shares.values()) >= (1 - TOLERANCE) * max(shares.values()), (first, last)
    for _, service in started:
        service.stop()
        assert len(served_by(service)) == WORKERS, "every worker of each host served calls"


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_a_worker_paused_past_its_lease_confirms_its_slot_before_it_sends(
    hosts: StartHosts, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """One worker stops itself right after a grant (tests/gunicorn_pause.py) while the five
    others keep the budget full; resumed once the slot's lease (2 s) and a window have passed,
    it must not send on the slot that others have spent again since."""
    trigger = tmp_path / "pause"
    started = hosts("python:tests.gunicorn_pause", PAUSE_TRIGGER=str(trigger))
    each, callers = 20, 2 * len(HOSTS) * WORKERS
    with ThreadPoolExecutor(callers) as threads:
        futures = [
            threads.submit(call, started[i % 2][0], "127.0.0.3", each, f"caller-{i}")
            for i in range(callers)
        ]
        wait_until(lambda: emulator.control.stats()["total"] >= 2 * LIMIT, timeout=20)
        trigger.touch()
        wait_until(lambda: not trigger.exists())
        (claimed,) = tmp_path.glob("pause.*")
        pid = int(claimed.suffix[1:])
        wait_until(lambda: stopped(pid))
        before = emulator.control.stats()["total"]
        time.sleep(TIMEOUT + 1.0 + WINDOW + 0.5)  # past the lease, and the window after it
        assert emulator.control.stats()["total"] >= before + 2 * LIMIT  # the others sent on
        os.kill(pid, signal.SIGCONT)
        results = [future.result() for future in futures]
    assert [status for status, _ in results] == [200] * callers, results
    assert all(isinstance(facts, list) and len(facts) == each for _, facts in results)
    for _, service in started:
        service.stop()
    assert emulator.control.stats()["statuses"] == {"200": callers * each}
    assert max_in_any_window(emulator.control.arrivals(), WINDOW) <= LIMIT
    lost = rf" {pid} \[\S+\] catfacts.limiter.redis: a slot was lost"
    output = "".join(service.output for _, service in started)
    assert re.search(lost, output), "the paused worker should have found its slot lost"
