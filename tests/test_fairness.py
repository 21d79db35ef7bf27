"""Fair shares per client, through real gunicorn: a client with many calls does not crowd out one
with a single call. Clients are told apart by address (127.0.0.2 and 127.0.0.3) or by API key.

With one worker, its turns share the budget; with two sharing Redis, the Redis limiter says whose
turn it is across both (see limiter/redis.py), and the single call shares a worker with part of
the crowd."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3

from bench.processes import ServiceProcess
from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from tests.support import start_gunicorn, wait_until

LIMIT = 100  # per second, the emulator's and the service's
MANY, EACH, SINGLE = 8, 60, 150
TOLERANCE = 0.25  # the single call's share of the budget against the other client's


def env_for(emulator: EmulatorProcess, **more: str) -> dict[str, str]:
    emulator.control.configure(rate_limit=f"{LIMIT}/second")
    rate = f"{LIMIT}/second"
    return {"CATFACTS_UPSTREAM_URL": emulator.url, "CATFACTS_RATE_LIMIT": rate, **more}


@pytest.fixture
def service(emulator: EmulatorProcess) -> Iterator[str]:
    """One worker: its own turns go round the clients (see strategies/limited/turns.py)."""
    process: ServiceProcess
    process, url = start_gunicorn(1, env_for(emulator), connections=MANY + 4)
    yield url
    process.stop()


@pytest.fixture
def two_workers(emulator: EmulatorProcess, redis_url: str) -> Iterator[tuple[str, ServiceProcess]]:
    """Two workers sharing Redis, at most 5 connections each: the crowd's 8 calls are spread
    over both, and the single call lands next to at least 3 of them."""
    env = env_for(emulator, CATFACTS_REDIS_URL=redis_url)
    process, url = start_gunicorn(2, env, connections=5)
    yield url, process
    process.stop()


def sent_for(stats: dict[str, Any], prefix: str) -> int:
    return sum(
        sum(statuses.values())
        for request_id, statuses in stats["by_request_id"].items()
        if request_id.startswith(prefix)
    )


def test_one_call_gets_as_much_as_a_client_with_eight_calls(
    service: str, emulator: EmulatorProcess
) -> None:
    compete(service, emulator)


def test_with_two_workers_sharing_redis_one_call_still_gets_an_equal_share(
    two_workers: tuple[str, ServiceProcess], emulator: EmulatorProcess
) -> None:
    url, process = two_workers
    compete(url, emulator)
    assert emulator.control.stats()["statuses"] == {"200": MANY * EACH + SINGLE}  # no 429
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= LIMIT
    process.stop()
    worker_of = dict(
        (request_id, pid)
        for pid, request_id in re.findall(
            r" (\d+) \[([\w-]+)\] catfacts.web.views: ", process.output
        )
    )
    crowd_workers = [worker_of[f"crowd-{i}"] for i in range(MANY)]
    assert len(set(crowd_workers)) == 2, worker_of  # the crowd is spread over both workers
    assert crowd_workers.count(worker_of["single"]) >= 3, worker_of  # and shares one with it


def compete(service: str, emulator: EmulatorProcess) -> None:
    """The crowd's 8 calls, then the single call: equal shares while both compete."""
    crowd_pool = urllib3.PoolManager(maxsize=MANY, retries=False, timeout=60)
    crowd_pool.connection_pool_kw["source_address"] = ("127.0.0.2", 0)
    single = urllib3.PoolManager(retries=False, timeout=60)
    single.connection_pool_kw["source_address"] = ("127.0.0.3", 0)

    def crowd_call(i: int) -> int:
        path = f"{service}/cat_async_limited/{EACH}"
        return crowd_pool.request("GET", path, headers={"X-Request-ID": f"crowd-{i}"}).status

    def single_call() -> urllib3.BaseHTTPResponse:
        path = f"{service}/cat_async_limited/{SINGLE}"
        return single.request("GET", path, headers={"X-Request-ID": "single"})

    with ThreadPoolExecutor(MANY + 1) as threads:
        crowd_calls = threads.map(crowd_call, range(MANY))
        wait_until(lambda: len(emulator.control.stats()["by_request_id"]) == MANY)
        started = time.monotonic()
        answer = threads.submit(single_call)
        # From the single call's first request on, both clients compete for every slot.
        stats = emulator.control.stats()
        while "single" not in stats["by_request_id"]:
            stats = emulator.control.stats()
        crowd_before, single_before = sent_for(stats, "crowd-"), sent_for(stats, "single")
        # ... until the single call's last request: what the crowd got after it is not a share.
        while sent_for(stats, "single") < SINGLE and not answer.done():
            stats = emulator.control.stats()
        crowd_during = sent_for(stats, "crowd-") - crowd_before
        response = answer.result()
        took = time.monotonic() - started
        assert list(crowd_calls) == [200] * MANY
    assert response.status == 200
    assert len(response.json()) == SINGLE
    crowd, single_share = crowd_during, SINGLE - single_before
    # Equal shares: the crowd got about as many requests as the single call while both
    # competed, not eight times as many; the single call took about 2 * SINGLE / LIMIT s.
    assert abs(crowd / single_share - 1) <= TOLERANCE, (crowd, single_share)
    assert took < 2 * SINGLE / LIMIT * (1 + TOLERANCE) + 1, took
