"""`GET /budget`: the budget as it stands, seen without spending any of it, against the real
emulator, and across gunicorn workers sharing a real private Redis."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from tests.support import AppFactory, start_gunicorn, wait_until

KEYS = {
    "limit",
    "window",
    "source",
    "remaining",
    "reset",
    "paused_for",
    "slots_in_use",
    "calls",
    "wait",
}


def budget(client: FlaskClient, query: str = "", **headers: str) -> dict[str, Any]:
    response = client.get(f"/budget{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert isinstance(response.json, dict)
    return response.json


def test_a_peek_spends_nothing(client: FlaskClient, emulator: EmulatorProcess) -> None:
    before = emulator.control.stats()["total"]
    for _ in range(5):
        seen = budget(client, "?n=100")
    assert emulator.control.stats()["total"] == before  # not one request upstream
    assert set(seen) >= KEYS
    assert (seen["limit"], seen["window"], seen["source"]) == (20, 1.0, "configured")
    assert seen["remaining"] is None and seen["reset"] is None  # nothing heard yet
    assert (seen["slots_in_use"], seen["calls"], seen["paused_for"]) == (0, [], 0.0)
    assert seen["n"] == 100
    assert 3.0 <= seen["wait"] < 5.0  # five windows' worth, the first one now
    assert budget(client, "?n=0")["wait"] == 0.0
    assert budget(client)["n"] == 1


def test_a_peek_sees_the_calls_in_flight_and_what_the_upstream_said(
    make_app: AppFactory,
) -> None:
    app = make_app(rate="10 per 2 seconds")
    caller = threading.Thread(target=app.test_client().get, args=("/cat_async_limited/25",))
    caller.start()
    watcher = app.test_client()
    watcher.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    wait_until(lambda: budget(watcher)["slots_in_use"] == 10)  # the first window went
    seen = budget(watcher, "?n=5")
    caller.join()
    assert seen["calls"] == [{"client": "127.0.0.1", "calls": 1, "queued": 15, "you": False}]
    assert seen["remaining"] is not None and seen["reset"] is not None
    assert seen["wait"] > 1.0  # the next window, at least: this one is spent
    assert budget(watcher)["calls"] == []  # the call is over


@pytest.mark.parametrize("query", ["?n=abc", "?n=-1", "?n=1.5", "?n=", "?n=1001", "?n=%201"])
def test_a_bad_n_is_a_json_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/budget{query}")
    assert response.status_code == 400
    assert response.json is not None and "n must be" in response.json["error"]


def test_with_api_keys_the_peek_needs_one(make_app: AppFactory) -> None:
    client = make_app(api_keys="budget-key-0123").test_client()
    response = client.get("/budget")
    assert response.status_code == 401
    assert response.json is not None and "API key" in response.json["error"]
    assert budget(client, **{"X-API-Key": "budget-key-0123"})["calls"] == []


@pytest.fixture
def two_workers(emulator: EmulatorProcess, redis_url: str) -> Iterator[str]:
    """gunicorn -w 2 sharing the private Redis, against the emulator at 20/second."""
    env = {
        "CATFACTS_UPSTREAM_URL": emulator.url,
        "CATFACTS_RATE_LIMIT": "20/second",
        "CATFACTS_REDIS_URL": redis_url,
    }
    process, url = start_gunicorn(2, env, connections=3)  # room for peeks beside the calls
    yield url
    process.stop()


def get_json(url: str) -> Any:
    response = urllib3.request("GET", url, retries=False, timeout=10)
    assert response.status == 200, response.data
    return json.loads(response.data)


def test_every_worker_sees_the_calls_of_the_others(two_workers: str) -> None:
    """With Redis, a call's queue is seen from every worker: the peek and the estimates."""
    callers = [
        threading.Thread(target=get_json, args=(f"{two_workers}/cat_async_limited/60",))
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    looks: list[Any] = []

    def seen_from_both() -> bool:
        looks.append(get_json(f"{two_workers}/budget?n=20"))
        workers = {look["worker"] for look in looks if look["calls"]}
        return len(workers) == 2

    wait_until(seen_from_both)
    for caller in callers:
        caller.join()
    busy = [look for look in looks if look["calls"]]
    assert all(look["shared"] for look in looks)
    # Both workers saw calls, and some look counted both: whether the calls went to one worker
    # or one to each, one of the two needs what the other worker said in Redis.
    assert any(look["calls"][0]["calls"] == 2 for look in busy), busy
    assert max(look["wait"] for look in busy) > 1.5  # 20 more behind up to 120 queued: windows
    # Gone soon after they ended: a caller may have its answer a moment before its worker has
    # forgotten the call, and the other worker hears of it at the next word in Redis (0.1 s).
    wait_until(lambda: get_json(f"{two_workers}/budget")["calls"] == [], timeout=3.0)
