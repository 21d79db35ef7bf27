"""The rate, found and shared: the limited strategy against upstreams it must learn, judged by
the emulator's own arrival log.

Four gunicorn workers share Redis while they learn the rate from each dialect's headers, or from
refusals alone; `auto` finds the window after another call spent part of it; several limits bind
at once; every redirect hop is an arrival; another client spends half of every window.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import pytest
import urllib3

from bench.processes import ServiceProcess
from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from tests.support import start_gunicorn

Results = list[tuple[int, object]]


class Serve(Protocol):
    def __call__(self, workers: int = 1, **env: str) -> str: ...


@pytest.fixture
def serve(emulator: EmulatorProcess) -> Iterator[Serve]:
    """Starts gunicorn with `workers` against the test emulator; stops them after the test."""
    started: list[ServiceProcess] = []

    def start(workers: int = 1, **env: str) -> str:
        service, url = start_gunicorn(workers, {"CATFACTS_UPSTREAM_URL": emulator.url, **env})
        started.append(service)
        return url

    yield start
    for service in started:
        service.stop()


def call(url: str, path: str, callers: int = 1, headers: dict[str, str] | None = None) -> Results:
    """`callers` concurrent GETs of `path`; each answer's status and JSON body."""
    pool = urllib3.PoolManager(maxsize=callers, retries=False, timeout=120)

    def one(_: int) -> tuple[int, object]:
        response = pool.request("GET", f"{url}{path}", headers=headers)
        return response.status, json.loads(response.data)

    with ThreadPoolExecutor(callers) as threads:
        return list(threads.map(one, range(callers)))


def assert_exact(results: Results, n: int) -> None:
    for status, body in results:
        assert status == 200, body
        assert isinstance(body, list) and len(body) == n


def assert_within_every_policy(emulator: EmulatorProcess, *, accepted: bool = False) -> None:
    """At most L arrivals in any W, for every policy the upstream enforces, whatever answered
    (`accepted`: counting only the requests it accepted, where a few refusals are allowed)."""
    arrivals = emulator.control.arrivals()
    statuses = {200} if accepted else None
    for limit, window in emulator.control.rate_policies():
        assert max_in_any_window(arrivals, window, statuses) <= limit, (limit, window)


def refused(emulator: EmulatorProcess) -> int:
    return int(emulator.control.stats()["statuses"].get("429", 0))


@pytest.mark.parametrize("dialect", ["ietf", "github", "laravel"])
def test_four_workers_learning_together_never_exceed_the_limit(
    serve: Serve, emulator: EmulatorProcess, redis_url: str, dialect: str
) -> None:
    emulator.control.configure(dialect=dialect, rate_limit="10/second", latency=0.005)
    url = serve(4, CATFACTS_RATE_LIMIT="auto", CATFACTS_REDIS_URL=redis_url)
    assert_exact(call(url, "/cat_async_limited/6", callers=12), 6)
    assert_within_every_policy(emulator)
    assert refused(emulator) <= 2


def test_four_workers_learn_a_pace_from_refusals_alone(
    serve: Serve, emulator: EmulatorProcess, redis_url: str
) -> None:
    emulator.control.configure(dialect="proxy", rate_limit="20/second", latency=0.005)
    url = serve(4, CATFACTS_RATE_LIMIT="auto", CATFACTS_REDIS_URL=redis_url)
    assert_exact(call(url, "/cat_async_limited/15", callers=8), 15)  # a 429 is never a lost fact
    stats = emulator.control.stats()["statuses"]
    assert stats["200"] == 120
    assert refused(emulator) <= 0.1 * 120


def test_refusals_alone_teach_a_pace_that_the_next_call_keeps(
    serve: Serve, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(dialect="proxy", rate_limit="20/second", latency=0.005)
    url = serve(CATFACTS_RATE_LIMIT="auto")
    assert_exact(call(url, "/cat_async_limited/120"), 120)
    first = refused(emulator)
    assert first <= 0.05 * 120
    emulator.control.reset()
    assert_exact(call(url, "/cat_async_limited/120"), 120)
    assert refused(emulator) <= 0.05 * 120


@pytest.mark.parametrize("dialect", ["ietf", "github", "laravel"])
def test_auto_finds_the_window_after_another_call_spent_part_of_it(
    serve: Serve, emulator: EmulatorProcess, dialect: str
) -> None:
    emulator.control.configure(dialect=dialect, rate_limit="10 per 3 seconds", latency=0.005)
    url = serve(CATFACTS_RATE_LIMIT="auto")
    assert_exact(call(url, "/cat/1"), 1)  # the first hit of the upstream's window is not ours
    time.sleep(1.2)
    [(status, body)] = call(url, "/cat_async_limited/30?trace=1")
    assert status == 200 and isinstance(body, dict), body
    assert len(body["facts"]) == 30
    limit = body["trace"]["limit"]
    assert limit["requests"] == 10
    # Found, never shorter than it is: Laravel tells no reset but a 429's Retry-After, rounded
    # down, so its window may come out a second long (safe, if slower).
    assert limit["window_s"] == 3.0 or (dialect == "laravel" and limit["window_s"] == 4.0)
    assert refused(emulator) <= 2
    assert_within_every_policy(emulator)


def test_after_another_call_the_search_for_the_window_keeps_to_l_in_any_w(
    serve: Serve, emulator: EmulatorProcess
) -> None:
    # Laravel tells no window nor reset: the one /cat/1 began is searched for by looks at its
    # end, and the next window's first hit opens it to a burst. Counted for less than W, those
    # looks and that burst came more than L in a sliding W (11 of 10 here, 22 of 20 at 20 per
    # 10 s; the upstream's fixed windows accepted them all).
    emulator.control.configure(dialect="laravel", rate_limit="10 per 5 seconds", latency=0.005)
    url = serve(CATFACTS_RATE_LIMIT="auto")
    assert_exact(call(url, "/cat/1"), 1)
    time.sleep(3.0)  # the limited call first hears of the window 3 s after it began
    assert_exact(call(url, "/cat_async_limited/20"), 20)
    assert refused(emulator) == 0
    assert emulator.control.stats()["statuses"] == {"200": 21}
    assert_within_every_policy(emulator)


def test_several_configured_limits_all_bind(serve: Serve, emulator: EmulatorProcess) -> None:
    rates = "6/second;10 per 3 seconds"
    emulator.control.configure(rate_limit=rates, latency=0.005)
    url = serve(CATFACTS_RATE_LIMIT=rates)
    assert_exact(call(url, "/cat_async_limited/8", callers=3), 8)
    assert refused(emulator) == 0
    assert_within_every_policy(emulator)


def test_every_announced_policy_binds_under_auto(serve: Serve, emulator: EmulatorProcess) -> None:
    emulator.control.configure(dialect="ietf", rate_limit="6/second;10 per 3 seconds")
    url = serve(CATFACTS_RATE_LIMIT="auto")
    assert_exact(call(url, "/cat_async_limited/24"), 24)
    assert refused(emulator) <= 1
    assert_within_every_policy(emulator)


def test_every_redirect_hop_takes_a_slot_of_its_own(
    serve: Serve, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(redirect="temporary", latency=0.005)
    url = serve(CATFACTS_RATE_LIMIT="20/second")
    assert_exact(call(url, "/cat_async_limited/15", callers=2), 15)
    by_path = emulator.control.stats()["by_path"]
    assert by_path["/fact"] == {"307": 30}
    assert by_path["/v2/fact"] == {"200": 30}
    assert_within_every_policy(emulator)


def test_a_permanent_redirect_is_followed_for_good_and_said_once(
    serve: Serve, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(redirect="permanent")
    service_url = serve(CATFACTS_RATE_LIMIT="20/second")
    assert_exact(call(service_url, "/cat_async_limited/10"), 10)
    assert_exact(call(service_url, "/cat_async_limited/10"), 10)
    by_path = emulator.control.stats()["by_path"]
    assert by_path["/fact"] == {"308": 1}  # the first request learned it; none since
    assert by_path["/v2/fact"] == {"200": 20}
    assert_within_every_policy(emulator)


def test_a_quota_shared_with_another_client_costs_few_429s(
    serve: Serve, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(dialect="ietf", rate_limit="20/second", latency=0.005)
    url = serve(CATFACTS_RATE_LIMIT="20/second")
    stop = threading.Event()

    def other_client() -> None:
        """Ten requests at the start of each of its seconds, from the same address as ours."""
        pool = urllib3.PoolManager(retries=False, timeout=10)
        while not stop.is_set():
            began = time.monotonic()
            for _ in range(10):
                pool.request("GET", f"{emulator.url}/fact", headers={"X-Request-ID": "other"})
            stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))

    neighbour = threading.Thread(target=other_client)
    neighbour.start()
    try:
        results = call(url, "/cat_async_limited/60", headers={"X-Request-ID": "ours"})
    finally:
        stop.set()
        neighbour.join()
    assert_exact(results, 60)
    ours = emulator.control.stats()["by_request_id"]["ours"]
    assert ours["200"] == 60
    assert ours.get("429", 0) <= 2
