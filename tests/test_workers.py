"""Several gunicorn workers share one upstream budget through Redis, and not without it."""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import pytest
import redis
import urllib3
from flask import Flask

from bench.processes import RedisServer, ServiceProcess, catfacts_env, free_port
from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from tests.support import AppFactory, wait_for_http, wait_until

CALLERS, EACH, LIMIT = 12, 10, 20


class StartGunicorn(Protocol):
    def __call__(self, **env: str) -> str: ...


@pytest.fixture
def gunicorn(emulator: EmulatorProcess) -> Iterator[StartGunicorn]:
    """Starts `gunicorn -w 3` as documented, against the test emulator, via `start(**env)`."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> str:
        port = free_port()
        # At most 4 connections a worker, so the 12 callers are spread over all 3 workers
        # (otherwise one worker may accept them all, and share nothing).
        command = [sys.executable, "-m", "gunicorn", "-w", "3", "--threads", "8"]
        command += ["--worker-connections", "4", "-b", f"127.0.0.1:{port}"]
        command += ["catfacts:create_app()"]
        variables = catfacts_env(
            CATFACTS_UPSTREAM_URL=emulator.url, CATFACTS_RATE_LIMIT=f"{LIMIT}/second", **env
        )
        service = ServiceProcess(command, variables)
        started.append(service)
        service.wait_for_line(r"Booting worker with pid")
        wait_for_http(f"http://127.0.0.1:{port}/hello/")
        return f"http://127.0.0.1:{port}"

    yield start
    for service in started:
        service.stop()
        workers = set(
            re.findall(r" (\d+) \[\S+\] catfacts.web.views: /cat_async_limited", service.output)
        )
        assert len(workers) == 3, "every worker should have served calls"


def call_concurrently(url: str) -> tuple[list[tuple[int, object]], float]:
    pool = urllib3.PoolManager(maxsize=CALLERS, retries=False, timeout=60)

    def one(_: int) -> tuple[int, object]:
        response = pool.request("GET", f"{url}/cat_async_limited/{EACH}")
        return response.status, json.loads(response.data)

    started = time.monotonic()
    with ThreadPoolExecutor(CALLERS) as threads:
        results = list(threads.map(one, range(CALLERS)))
    return results, time.monotonic() - started


def test_workers_sharing_redis_give_every_caller_exactly_n_with_zero_429s(
    gunicorn: StartGunicorn, emulator: EmulatorProcess, redis_url: str
) -> None:
    url = gunicorn(CATFACTS_REDIS_URL=redis_url)
    results, makespan = call_concurrently(url)
    assert [status for status, _ in results] == [200] * CALLERS
    assert all(isinstance(facts, list) and len(facts) == EACH for _, facts in results)
    assert emulator.control.stats()["statuses"] == {"200": CALLERS * EACH}
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= LIMIT
    ideal = math.ceil(CALLERS * EACH / LIMIT) - 1
    assert makespan < ideal * 1.3 + 1  # close to the ideal, with room for 3 workers' probes


def test_workers_without_redis_each_spend_the_whole_budget_and_meet_429s(
    gunicorn: StartGunicorn, emulator: EmulatorProcess
) -> None:
    url = gunicorn()
    call_concurrently(url)
    assert emulator.control.stats()["statuses"].get("429", 0) > 0


def test_redis_killed_mid_call_degrades_to_a_local_share_then_recovers_when_it_returns(
    make_app: AppFactory, emulator: EmulatorProcess, private_redis: RedisServer
) -> None:
    app: Flask = make_app(redis_url=private_redis.url)
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(lambda: app.test_client().get("/cat_async_limited/80"))
        deadline = time.monotonic() + 10
        while emulator.control.stats()["total"] < 25:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        private_redis.kill()
        response = call.result(timeout=15)
    # Degraded, not dead (tests/test_degraded.py): alone in the registry, the whole limit.
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 80
    assert app.test_client().get("/cat_async_limited/2").status_code == 200
    private_redis.start()
    recovered = app.test_client().get("/cat_async_limited/30")
    assert recovered.status_code == 200
    assert recovered.json is not None
    assert len(recovered.json) == 30
    assert emulator.control.stats()["statuses"].get("429", 0) == 0
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= LIMIT


def test_slots_lost_to_flushall_or_a_restart_mid_run_never_let_more_than_l_through(
    gunicorn: StartGunicorn, emulator: EmulatorProcess, private_redis: RedisServer
) -> None:
    url = gunicorn(CATFACTS_REDIS_URL=private_redis.url)
    pool = urllib3.PoolManager(maxsize=CALLERS, retries=False, timeout=60)

    def one(_: int) -> tuple[int, object]:
        response = pool.request("GET", f"{url}/cat_async_limited/25")
        return response.status, json.loads(response.data)

    with ThreadPoolExecutor(CALLERS) as threads:
        calls = threads.map(one, range(CALLERS))
        wait_until(lambda: emulator.control.stats()["total"] >= 40)
        redis.Redis.from_url(private_redis.url).flushall()
        wait_until(lambda: emulator.control.stats()["total"] >= 120, timeout=20)
        private_redis.kill()
        private_redis.start()  # on the same port, empty: most workers never see an error
        results = list(calls)
    for status, body in results:
        assert status == 200 or (status == 503 and "Redis" in str(body)), body
        assert status != 200 or (isinstance(body, list) and len(body) == 25)
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= LIMIT
