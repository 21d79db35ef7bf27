"""/cat_async_limited/<n>: exactly n facts, as fast as the limit allows and never faster."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from flask import Flask
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from catfacts.errors import ServiceUnavailable
from catfacts.limiter import Slot, Wait
from catfacts.limiter.memory import MemoryLimiter
from catfacts.observe.timeline import Timeline
from catfacts.rates import Rates
from catfacts.strategies.limited.calls import Call
from catfacts.strategies.limited.dispatcher import Dispatcher
from catfacts.upstream.client import AsyncUpstream
from catfacts.web.extension import EXTENSION
from tests.support import AppFactory, wait_until

TAG = re.compile(r"\[(\S+) #(\d+)\]$")


def get_limited(app: Flask, n: int, request_id: str) -> tuple[int, object]:
    response = app.test_client().get(
        f"/cat_async_limited/{n}", headers={"X-Request-ID": request_id}
    )
    return response.status_code, response.json


def assert_owned(facts: object, request_id: str, n: int) -> None:
    """Every fact was fetched for this caller, and there are exactly n of them."""
    assert isinstance(facts, list)
    tags = [TAG.search(fact) for fact in facts]
    assert all(tag is not None and tag[1] == request_id for tag in tags), facts
    assert sorted(int(tag[2]) for tag in tags if tag) == list(range(1, n + 1))


def assert_never_over_the_limit(
    emulator: EmulatorProcess, limit: int = 20, window: float = 1.0
) -> None:
    arrivals = emulator.control.arrivals()
    assert max_in_any_window(arrivals, window) <= limit


def test_one_caller_gets_exactly_n_with_zero_429s(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(tag_facts=True)
    response = client.get("/cat_async_limited/45", headers={"X-Request-ID": "solo"})
    assert response.status_code == 200
    assert_owned(response.json, "solo", 45)
    assert response.headers["X-Facts-Returned"] == "45"
    assert emulator.control.stats()["statuses"] == {"200": 45}
    assert_never_over_the_limit(emulator)


def test_ten_concurrent_callers_each_get_their_own_n_with_zero_429s(
    app: Flask, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(tag_facts=True)
    sizes = {f"caller-{i}": 3 + i for i in range(10)}
    with ThreadPoolExecutor(len(sizes)) as pool:
        calls = pool.map(lambda rid: get_limited(app, sizes[rid], rid), sizes)
        results = dict(zip(sizes, calls, strict=True))
    for request_id, (status, facts) in results.items():
        assert status == 200
        assert_owned(facts, request_id, sizes[request_id])
    assert emulator.control.stats()["statuses"] == {"200": sum(sizes.values())}
    assert_never_over_the_limit(emulator)


def test_the_limit_holds_under_latency_jitter(app: Flask, emulator: EmulatorProcess) -> None:
    emulator.control.configure(latency=0.03, jitter=0.025)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda rid: get_limited(app, 25, rid), ["a", "b", "c"]))
    assert [status for status, _ in results] == [200, 200, 200]
    assert emulator.control.stats()["statuses"] == {"200": 75}
    assert_never_over_the_limit(emulator)


def test_a_small_call_during_a_large_one_ends_within_about_a_window(
    app: Flask, emulator: EmulatorProcess
) -> None:
    with ThreadPoolExecutor(1) as pool:
        large = pool.submit(get_limited, app, 100, "large")
        wait_until(lambda: emulator.control.stats()["total"] >= 25)
        started = time.monotonic()
        status, facts = get_limited(app, 3, "small")
        small_took = time.monotonic() - started
        assert large.result()[0] == 200
    assert status == 200
    assert isinstance(facts, list)
    assert len(facts) == 3
    # About a window (1 s, a round trip, scheduling on a busy machine), not behind the large call's
    # remaining 75 facts (about 4 s).
    assert small_took < 2.5


def test_a_lower_limit_announced_by_the_upstream_is_obeyed_and_logged_once(
    make_app: AppFactory, emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.control.configure(rate_limit="10/second")
    app = make_app(rate="20/second")
    status, facts = get_limited(app, 30, "guessed-wrong")
    assert status == 200
    assert isinstance(facts, list)
    assert len(facts) == 30
    assert emulator.control.stats()["statuses"] == {"200": 30}
    assert_never_over_the_limit(emulator, limit=10)
    assert caplog.text.count("the upstream announces 10 requests") == 1


def test_a_client_spending_the_same_quota_costs_a_few_429s_not_a_burst_per_window(
    app: Flask, emulator: EmulatorProcess
) -> None:
    stop = threading.Event()
    other = threading.Thread(target=spend_half_of_every_window, args=(emulator.url, stop))
    other.start()
    try:
        status, facts = get_limited(app, 60, "shared")
    finally:
        stop.set()
        other.join()
    assert status == 200
    assert isinstance(facts, list)
    assert len(facts) == 60
    ours = emulator.control.stats()["by_request_id"]["shared"]
    assert ours["200"] == 60
    assert ours.get("429", 0) <= 4


def test_retry_after_is_honoured_when_another_client_spent_the_window(
    app: Flask, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="10 per 2 seconds")
    pool = urllib3.PoolManager()
    for _ in range(10):
        assert pool.request("GET", f"{emulator.url}/fact").status == 200
    status, facts = get_limited(app, 5, "late")
    assert status == 200
    assert isinstance(facts, list)
    assert len(facts) == 5
    assert emulator.control.stats()["by_request_id"]["late"] == {"200": 5, "429": 1}


def test_after_a_429_it_waits_what_retry_after_says_not_a_whole_window(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="10 per 6 seconds")
    app = make_app(rate="10 per 6 seconds")
    pool = urllib3.PoolManager()
    for _ in range(10):
        assert pool.request("GET", f"{emulator.url}/fact").status == 200
    time.sleep(2.0)  # Retry-After now says 3 (3.9 s left, rounded down): wait 4 s, not 6
    status, _ = get_limited(app, 5, "refused-once")
    assert status == 200
    assert emulator.control.stats()["by_request_id"]["refused-once"] == {"200": 5, "429": 1}
    arrivals = emulator.control.arrivals()
    refused = next(i for i, (_, status) in enumerate(arrivals) if status == 429)
    paused = arrivals[refused + 1][0] - arrivals[refused][0]
    assert 3.0 <= paused < 5.0


def test_many_callers_sharing_the_quota_with_another_client_all_get_exactly_n(
    app: Flask, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(tag_facts=True)
    stop = threading.Event()
    other = threading.Thread(target=spend_half_of_every_window, args=(emulator.url, stop))
    other.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            callers = [f"sharer-{i}" for i in range(8)]
            calls = pool.map(lambda rid: get_limited(app, 15, rid), callers)
            results = dict(zip(callers, calls, strict=True))
    finally:
        stop.set()
        other.join()
    for request_id, (status, facts) in results.items():
        assert status == 200, facts
        assert_owned(facts, request_id, 15)


def test_a_request_dropped_after_it_was_counted_costs_one_slot_and_is_retried(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(plan=["ok", "drop", "ok"])
    response = client.get("/cat_async_limited/6")
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 6
    assert emulator.control.stats()["statuses"] == {"200": 6, "444": 1}


def test_a_call_ends_with_a_504_only_when_nobody_got_a_fact_for_three_windows(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="1 per 60 seconds", dialect="none")
    assert urllib3.request("GET", f"{emulator.url}/fact").status == 200  # another client
    client = make_app(upstream_timeout=0.5).test_client()  # stalled: 3 windows + 2 time-outs
    started = time.monotonic()
    response = client.get("/cat_async_limited/3")
    assert response.status_code == 504
    assert response.json is not None
    assert "no fact for 4 s" in response.json["error"]
    assert response.json["fetched"] == 0
    assert time.monotonic() - started >= 4


def test_transient_failures_are_retried(client: FlaskClient, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["ok", "error", "malformed", "missing_fact", "ok", "error"])
    response = client.get("/cat_async_limited/6")
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 6
    assert emulator.control.stats()["statuses"] == {"200": 8, "500": 2}


def test_a_timeout_is_retried(make_app: AppFactory, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["slow"], slow_seconds=30)
    client = make_app(upstream_timeout=0.3).test_client()
    response = client.get("/cat_async_limited/3")
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 3


@pytest.mark.parametrize(("fault", "status"), [("error_rate", 502), ("slow_rate", 504)])
def test_a_persistent_failure_ends_the_call_with_a_clear_error(
    make_app: AppFactory, emulator: EmulatorProcess, fault: str, status: int
) -> None:
    emulator.control.configure(**{fault: 1.0}, slow_seconds=30)
    client = make_app(upstream_timeout=0.3).test_client()
    response = client.get("/cat_async_limited/3")
    assert response.status_code == status
    assert response.json is not None
    assert response.json["fetched"] == 0
    assert response.json["requested"] == 3


def test_a_call_that_cannot_meet_its_deadline_is_refused_before_it_spends_anything(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    app = make_app(rate="5 per 2 seconds", call_deadline=3.0)
    response = app.test_client().get("/cat_async_limited/40")
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["deadline"] == 3.0
    assert response.json["estimate"] > 3.0
    assert int(response.headers["Retry-After"]) >= 1
    assert emulator.control.stats()["total"] == 0


def test_the_callers_own_deadline_wins_and_a_call_let_in_finishes(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="5 per 2 seconds")
    client = make_app(rate="5 per 2 seconds", call_deadline=1.0).test_client()
    assert client.get("/cat_async_limited/12?deadline=1").status_code == 503
    response = client.get("/cat_async_limited/12?deadline=8")
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 12
    assert emulator.control.stats()["statuses"] == {"200": 12}


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "nan", "inf"])
def test_a_bad_deadline_is_a_400(client: FlaskClient, raw: str) -> None:
    response = client.get(f"/cat_async_limited/3?deadline={raw}")
    assert response.status_code == 400
    assert response.json is not None
    assert "deadline" in response.json["error"]


def test_shutdown_ends_calls_in_flight_with_a_clear_error(
    app: Flask, emulator: EmulatorProcess
) -> None:
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(get_limited, app, 200, "cut-short")
        wait_until(lambda: emulator.control.stats()["total"] >= 1)
        app.extensions[EXTENSION].close()
        status, body = call.result(timeout=10)
    assert status == 503
    assert isinstance(body, dict)
    assert "shutting down" in body["error"]


@pytest.mark.parametrize("path", ["/cat/3", "/cat_async/3", "/cat_async_limited/3"])
def test_once_the_drain_begins_no_new_call_spends_anything(
    app: Flask, emulator: EmulatorProcess, path: str
) -> None:
    app.extensions[EXTENSION].drain()
    response = app.test_client().get(path)
    assert response.status_code == 503
    assert response.json is not None
    assert "shutting down" in response.json["error"]
    assert response.headers["Retry-After"] == "1"
    assert emulator.control.stats()["total"] == 0


class FailsOnce(MemoryLimiter):
    """A limiter with a bug that shows once: the pump must survive it."""

    failed = False

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug in the limiter")
        return await super().try_acquire(clients)


def test_the_pump_logs_an_unexpected_error_and_goes_on(
    emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[str]:
        upstream = AsyncUpstream(emulator.url, timeout=2.0)
        try:
            dispatcher = Dispatcher(upstream, FailsOnce(Rates.parse("20/second")))
            return await asyncio.wait_for(dispatcher.fetch(3), 10)
        finally:
            await upstream.close()

    assert len(asyncio.run(scenario())) == 3
    assert "the pump hit an unexpected error" in caplog.text
    assert "a bug in the limiter" in caplog.text


def test_an_idle_service_uses_no_cpu(client: FlaskClient) -> None:
    assert client.get("/cat_async_limited/5").status_code == 200
    before = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - before < 0.02


def spend_half_of_every_window(url: str, stop: threading.Event) -> None:
    """Another client on the same IP: 10 requests a second, spread out (half of 20/second)."""
    pool = urllib3.PoolManager()
    while not stop.wait(0.1):
        pool.request("GET", f"{url}/fact", headers={"X-Request-ID": "other"})


def test_one_failure_ending_many_calls_gives_each_its_own_count() -> None:
    async def scenario() -> list[tuple[int | None, int | None]]:
        error = ServiceUnavailable("the shared rate limiter (Redis) is unreachable")
        calls = [
            Call(n, rid, Timeline("limited", n, rid, (10, 1.0)))
            for n, rid in ((40, "a"), (17, "b"))
        ]
        for call in calls:
            call.fail(error)
        failures = [call.result.exception() for call in calls]
        return [(f.fetched, f.requested) for f in failures if isinstance(f, ServiceUnavailable)]

    assert asyncio.run(scenario()) == [(0, 40), (0, 17)]


def test_a_short_deadline_is_met_by_a_fresh_service_with_a_long_time_out(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    client = make_app(upstream_timeout=30.0, call_deadline=2.0).test_client()
    response = client.get("/cat_async_limited/1")
    assert response.status_code == 200
    assert emulator.control.stats()["statuses"] == {"200": 1}
