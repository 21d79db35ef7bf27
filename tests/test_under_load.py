"""The limited strategy under real use, served as `make run` serves it (`python -m catfacts`).

Many more callers than the old thread pool had, a caller who hangs up, SIGTERM mid-call: judged by
what the callers got and by what the emulator saw.
"""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3

from bench.processes import ServiceProcess
from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from tests.support import StartService, wait_until

TAG = re.compile(r"\[(\S+) #(\d+)\]$")
RATE = 50  # per second: many callers, a test of a few seconds


_POOL = urllib3.PoolManager(maxsize=100, retries=False)


@pytest.fixture
def serve(emulator: EmulatorProcess, running_service: StartService) -> StartService:
    """Starts `python -m catfacts` with its defaults against the test emulator at RATE/second."""
    emulator.control.configure(rate_limit=f"{RATE}/second", tag_facts=True)

    def start(**env: str) -> tuple[str, ServiceProcess]:
        return running_service(**{"CATFACTS_RATE_LIMIT": f"{RATE}/second", **env})

    return start


def get(url: str, path: str, request_id: str, timeout: float = 60) -> tuple[int, Any, float]:
    """Status, JSON body and seconds taken of one GET, on a connection of its own."""
    started = time.monotonic()
    response = _POOL.request(
        "GET", f"{url}{path}", headers={"X-Request-ID": request_id}, timeout=timeout
    )
    took = time.monotonic() - started
    is_json = response.headers.get("Content-Type") == "application/json"
    return response.status, json.loads(response.data) if is_json else response.data, took


def test_many_more_callers_than_threads_once_had_all_get_exactly_n_and_hello_answers(
    serve: StartService, emulator: EmulatorProcess
) -> None:
    url, _ = serve()
    callers, each = 60, 8  # 480 requests: about 10 s at 50/second
    with ThreadPoolExecutor(callers + 1) as pool:
        calls = [
            pool.submit(get, url, f"/cat_async_limited/{each}", f"caller-{i}")
            for i in range(callers)
        ]
        wait_until(lambda: emulator.control.stats()["total"] >= 2 * RATE)
        hello = [get(url, "/hello/", "hello", timeout=2)[2] for _ in range(5)]
        small = pool.submit(get, url, "/cat_async_limited/3", "small")
        status, facts, small_took = small.result()
        results = [call.result() for call in calls]
    assert [status for status, _, _ in results] == [200] * callers
    for i, (_, body, _) in enumerate(results):
        assert owners(body) == [(f"caller-{i}", k) for k in range(1, each + 1)]
    assert (status, len(facts)) == (200, 3)
    assert max(hello) < 1.0  # /hello/ never waits behind the limited calls
    # Round-robin: the small call's 3 turns come once per round of the 61 calls.
    fair_share = 3 * (callers + 1) / RATE
    assert small_took < 2 * fair_share + 1
    served = emulator.control.stats()["statuses"]
    assert set(served) == {"200"}  # zero 429s
    # A request that timed out under this load (2 cores, 60 callers) is retried, and the
    # upstream may have served both: a few more than asked, never fewer, never a 429.
    assert callers * each + 3 <= served["200"] <= callers * each + 3 + callers
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= RATE


def test_past_the_bound_a_call_is_refused_at_once_with_retry_after(
    serve: StartService, emulator: EmulatorProcess
) -> None:
    url, _ = serve(CATFACTS_MAX_CALLS="4")
    with ThreadPoolExecutor(4) as pool:
        long_calls = [
            pool.submit(get, url, "/cat_async_limited/150", f"long-{i}") for i in range(4)
        ]
        wait_until(lambda: emulator.control.stats()["total"] >= 8)
        response = _POOL.request("GET", f"{url}/cat_async_limited/1", timeout=5)
        hello = get(url, "/hello/", "hello", timeout=2)
        assert [call.result()[0] for call in long_calls] == [200] * 4
    assert response.status == 503
    assert "CATFACTS_MAX_CALLS" in response.json()["error"]
    assert int(response.headers["Retry-After"]) >= 1
    assert hello[0] == 200


@pytest.mark.parametrize("pipelined", [False, True], ids=["plain", "next request sent"])
def test_a_caller_who_hangs_up_stops_the_spending(
    serve: StartService, emulator: EmulatorProcess, pipelined: bool
) -> None:
    url, _ = serve()
    host, port = url.removeprefix("http://").split(":")

    def spent() -> int:
        counts = emulator.control.stats()["by_request_id"].get("gone", {})
        return int(sum(counts.values()))

    with socket.create_connection((host, int(port))) as caller:
        request = "GET /cat_async_limited/600 HTTP/1.1\r\nHost: x\r\nX-Request-ID: gone\r\n\r\n"
        caller.sendall(request.encode())
        wait_until(lambda: spent() >= 20)
        if pipelined:  # bytes waiting behind the call must not hide the hang-up
            caller.sendall(b"GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n")
    hung_up_at = time.monotonic()
    time.sleep(2.0)  # within about a second, plus a look behind pipelined bytes
    at_two_seconds = spent()
    time.sleep(1.5)
    assert spent() == at_two_seconds < 600
    assert time.monotonic() - hung_up_at < 6


def test_head_on_a_fact_endpoint_spends_nothing(
    serve: StartService, emulator: EmulatorProcess
) -> None:
    url, _ = serve()
    for path in ("/cat/5", "/cat_async/5", "/cat_async_limited/5"):
        response = _POOL.request("HEAD", f"{url}{path}", timeout=5)
        assert response.status == 200
        assert response.headers["X-Facts-Requested"] == "5"
    assert emulator.control.stats()["total"] == 0


def test_sigterm_mid_call_answers_json_503s_with_the_facts_and_exits_promptly(
    serve: StartService, emulator: EmulatorProcess
) -> None:
    url, service = serve(CATFACTS_SHUTDOWN_GRACE="2")
    with ThreadPoolExecutor(3) as pool:
        calls = [pool.submit(get, url, "/cat_async_limited/1000", f"long-{i}") for i in range(3)]
        wait_until(lambda: emulator.control.stats()["total"] >= 60)
        signalled = time.monotonic()
        exit_code = service.stop(timeout=20)
        exited_after = time.monotonic() - signalled
        results = [call.result() for call in calls]
    for status, body, _ in results:
        assert status == 503
        assert "shutting down" in body["error"]
        assert body["requested"] == 1000
        assert 0 < body["fetched"] == len(body["facts"]) < 1000
    assert exit_code == 0
    assert exited_after < 10  # gunicorn's graceful timeout is 15 s
    served = emulator.control.stats()["total"]
    time.sleep(0.5)
    assert emulator.control.stats()["total"] == served  # nothing sent after the exit
    assert served >= sum(body["fetched"] for _, body, _ in results)


def owners(facts: list[str]) -> list[tuple[str, int]]:
    """Whom each fact was fetched for, from the emulator's "[request-id #k]" tags, sorted."""
    tags = [TAG.search(fact) for fact in facts]
    return sorted((tag[1], int(tag[2])) for tag in tags if tag is not None)
