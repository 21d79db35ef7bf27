"""Degraded, not dead: when Redis goes, each process runs on a safe local share of the limit, and
comes back to the shared budget when Redis answers again (`catfacts/limiter/degraded.py`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3

from bench.processes import RedisServer, ServiceProcess
from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from catfacts.errors import ServiceUnavailable
from catfacts.limiter import Slot, Wait
from catfacts.limiter.degraded import (
    DEGRADED,
    PROBE_FIRST,
    PROBE_MAX,
    SHARED,
    Fallback,
    LocalShare,
    View,
    backoff,
    share,
)
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rate, Rates
from tests.support import closed_port_url, start_gunicorn, wait_until

# --- The arithmetic ----------------------------------------------------------------------------


def test_the_shares_of_every_sharer_add_up_to_the_limit_never_more() -> None:
    for limit, n, others in itertools.product((1, 5, 10, 20, 100), (1, 2, 3, 6, 7), (0, 1, 4, 9)):
        ids = tuple(f"p{i}" for i in range(n))
        view = View(ids, tuple(0.5 for _ in range(others)))  # answered at 0.5, window 1 s
        rate = Rate(limit, 1.0)
        total = sum(share(rate, view, me, now=1.0)[0] for me in ids)
        assert total <= max(limit - others, 0)
        if others == 0:
            assert total == limit  # the remainder goes to the first sharers: nothing wasted
        else:
            assert total >= (limit - others) - n  # at most one short per sharer


def test_a_share_grows_when_another_process_slot_stops_counting() -> None:
    view = View(("a", "b"), (0.2, 0.7))  # two slots of others, answered at 0.2 and 0.7
    rate = Rate(10, 1.0)
    assert share(rate, view, "a", now=1.0) == (4, 1.2)  # (10 - 2) // 2, grows at 0.2 + 1
    assert share(rate, view, "a", now=1.5) == (4, 1.7)  # (10 - 1) // 2: no remainder yet
    assert share(rate, view, "a", now=1.8) == (5, None)
    assert share(rate, view, "b", now=1.8) == (5, None)


def test_probes_back_off_from_half_a_second_to_ten() -> None:
    delays, delay = [], None
    for _ in range(8):
        delay = backoff(delay)
        delays.append(delay)
    assert delays == [PROBE_FIRST, 1.0, 2.0, 4.0, 8.0, PROBE_MAX, PROBE_MAX, PROBE_MAX]


def test_own_slots_from_before_the_outage_count_against_the_local_share() -> None:
    now = [10.0]
    flying = {"me:1": 9.9}  # granted by Redis, still in flight when it went
    answered = [9.5, 9.6]  # answered within the window
    local = LocalShare(View(("me", "other"), ()), "me", flying, answered, lambda: now[0])
    rates = Rates((Rate(6, 1.0),))  # a share of 3: all taken by the slots from before
    wait = local.room(rates)
    assert isinstance(wait, Wait)
    assert wait.seconds == pytest.approx(0.5)  # until the answer at 9.5 stops counting
    now[0] = 10.51
    assert local.room(rates) is None


# --- One process, a real Redis -------------------------------------------------------------------


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_one_process_degrades_when_redis_dies_and_comes_back_when_it_returns(
    private_redis: RedisServer,
) -> None:
    async def scenario() -> None:
        rates = Rates((Rate(4, 1.0),))
        limiter = Fallback(RedisLimiter(rates, private_redis.url, "http://upstream", 1.0))
        try:
            slot = await limiter.try_acquire()
            assert isinstance(slot, Slot)
            await _until(lambda: limiter.can_degrade)
            private_redis.kill()
            taken = [await limiter.try_acquire() for _ in range(4)]
            assert limiter.phase == DEGRADED
            assert limiter.degraded is not None
            assert "cannot be reached" in limiter.degraded
            # Alone in the registry: the whole limit, less the slot still in flight.
            assert [isinstance(answer, Slot) for answer in taken] == [True] * 3 + [False]
            for answer in [slot, *taken]:
                if isinstance(answer, Slot):
                    await limiter.release(answer)
            private_redis.start()
            await _until(lambda: limiter.phase == SHARED, timeout=5.0)
            assert limiter.degraded is None
        finally:
            await limiter.close()

    asyncio.run(scenario())


def test_a_process_that_never_reached_redis_gets_a_prompt_503() -> None:
    async def scenario() -> None:
        url = closed_port_url().replace("http", "redis")
        limiter = Fallback(RedisLimiter(Rates((Rate(4, 1.0),)), url, "http://upstream", 1.0))
        started = time.monotonic()
        try:
            with pytest.raises(ServiceUnavailable, match="cannot be reached"):
                await limiter.try_acquire()
        finally:
            await limiter.close()
        assert time.monotonic() - started < 1.5

    asyncio.run(scenario())


# --- Two hosts of three workers, Redis killed mid-run ---------------------------------------------

LIMIT, CALLS, EACH = 20, 6, 30
GONE = ("cannot be reached", "closed the connection")  # a killed Redis, as a client meets it


@pytest.fixture
def two_hosts(
    emulator: EmulatorProcess, private_redis: RedisServer
) -> Iterator[tuple[list[str], list[ServiceProcess]]]:
    env = {
        "CATFACTS_UPSTREAM_URL": emulator.url,
        "CATFACTS_RATE_LIMIT": f"{LIMIT}/second",
        "CATFACTS_REDIS_URL": private_redis.url,
    }
    started = [start_gunicorn(3, env, connections=1) for _ in range(2)]
    yield [url for _, url in started], [service for service, _ in started]
    for service, _ in started:
        service.stop()


def test_redis_killed_while_six_calls_run_on_two_hosts_all_finish_exact_within_the_limit(
    two_hosts: tuple[list[str], list[ServiceProcess]],
    emulator: EmulatorProcess,
    private_redis: RedisServer,
) -> None:
    urls, services = two_hosts
    pool = urllib3.PoolManager(maxsize=CALLS + 2, retries=False, timeout=60)

    def call(url: str, n: int = EACH) -> tuple[int, object]:
        response = pool.request("GET", f"{url}/cat_async_limited/{n}")
        return response.status, json.loads(response.data)

    def ready(url: str) -> tuple[int, dict[str, object]]:
        response = pool.request("GET", f"{url}/readyz")
        return response.status, json.loads(response.data)

    started = time.monotonic()
    with ThreadPoolExecutor(CALLS + 2) as threads:
        running = [threads.submit(call, urls[i % 2]) for i in range(CALLS)]
        wait_until(lambda: emulator.control.stats()["total"] >= 50, timeout=15)
        private_redis.kill()
        killed_at = time.monotonic()
        wait_until(lambda: emulator.control.stats()["total"] >= 110, timeout=15)
        # Degraded, not dead: ready says so and why, new calls are served, /metrics counts it.
        status, body = ready(urls[0])
        assert status == 200, body
        assert body["status"] == "degraded", body
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert any(cause in checks["redis"] for cause in GONE), checks  # the real cause
        new = [threads.submit(call, url, 10) for url in urls]
        degraded_workers = _gauge(pool, urls[0])
        wait_until(lambda: emulator.control.stats()["total"] >= 170, timeout=15)
        private_redis.start()
        back_at = time.monotonic()
        results = [future.result(timeout=40) for future in running + new]
    finished = time.monotonic()

    assert [status for status, _ in results] == [200] * (CALLS + 2), results
    assert [len(facts) for _, facts in results] == [EACH] * CALLS + [10, 10]  # type: ignore[arg-type]
    statuses = emulator.control.stats()["statuses"]
    refused = statuses.get("429", 0)
    assert refused <= 2, statuses
    peak = max_in_any_window(emulator.control.arrivals(), 1.0)
    assert peak <= LIMIT
    assert degraded_workers >= 1

    # Back to the shared budget once Redis answers: every worker's /readyz says ready again.
    def all_ready() -> bool:
        answers = [ready(url) for url in urls for _ in range(6)]
        return all(status == 200 and body["status"] == "ready" for status, body in answers)

    wait_until(all_ready, timeout=25)
    recovered = time.monotonic()
    output = "".join(service.output for service in services)
    assert "the shared limiter is degraded: Redis at 127.0.0.1:" in output
    assert any(cause in output for cause in GONE)
    assert "the shared limiter is back" in output
    print(  # noqa: T201 (the figures for the report)
        f"\nsix calls of {EACH} + two of 10 on two hosts: {finished - started:.1f} s, "
        f"Redis away {back_at - killed_at:.1f} s, ready again {recovered - back_at:.1f} s after, "
        f"429s {refused}, peak {peak} in any 1 s (limit {LIMIT}), "
        f"{degraded_workers:g} workers degraded at the scrape"
    )


def _gauge(pool: urllib3.PoolManager, url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = pool.request("GET", f"{url}/metrics").data.decode()
    for family in text_string_to_metric_families(text):
        if family.name == "catfacts_limiter_degraded":
            return sum(sample.value for sample in family.samples)
    return 0.0
