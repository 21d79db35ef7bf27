"""All at once overdraws the shared budget by at most one window's limit (`overdraft.py`);
`CATFACTS_UNLIMITED_STRATEGIES` serves it open, or serves only the limited strategy."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from catfacts.errors import ConfigError
from catfacts.settings import Settings
from tests.support import AppFactory


def sent(emulator: EmulatorProcess) -> dict[str, int]:
    statuses: dict[str, int] = emulator.control.stats()["statuses"]
    return statuses


def test_a_burst_past_the_limit_runs_once_and_loses_facts_to_429s(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    """At 20 a second, /cat_async/30 still shows what a burst costs (the page's side-by-side)."""
    emulator.control.configure(rate_limit="20 per 10 seconds")
    response = client.get("/cat_async/30")
    assert response.status_code == 200
    assert len(response.json or []) == 20
    assert sent(emulator) == {"200": 20, "429": 10}


def test_a_second_burst_in_the_same_window_is_refused_before_it_sends(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    assert client.get("/cat_async/30").status_code == 200
    response = client.get("/cat_async/11")
    assert response.status_code == 503
    assert response.json is not None
    assert "/cat_async_limited/11" in response.json["error"]
    assert response.json["retry_after"] == int(response.headers["Retry-After"]) >= 1
    assert sum(sent(emulator).values()) == 30  # nothing more went upstream
    assert client.get("/cat_async/10").status_code == 200  # 40 in the window: twice the limit
    assert sum(sent(emulator).values()) == 40


def test_a_call_for_more_than_twice_the_limit_is_never_let_in(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    """Three /cat_async/1000 from anyone used to send 3,000 requests; now none."""
    for _ in range(3):
        response = client.get("/cat_async/1000")
        assert response.status_code == 400
        assert response.json is not None
        assert "/cat_async_limited/1000" in response.json["error"]
        assert "Retry-After" not in response.headers
    assert client.get("/cat_async/41").status_code == 400
    assert sent(emulator) == {}


def test_before_auto_has_learned_a_rate_the_cautious_60_a_minute_bounds_a_burst(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    """Not a second's guess of 1 request: all at once reads no headers, so it would never learn
    a higher one, and /cat_async/10 would be refused for good."""
    client = make_app(rate="auto").test_client()
    response = client.get("/cat_async/10")
    assert response.status_code == 200
    assert len(response.json or []) == 10
    refused = client.get("/cat_async/121")
    assert refused.status_code == 400
    assert refused.json is not None and "120 per 60 s" in refused.json["error"]
    assert sent(emulator) == {"200": 10}


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
def test_the_limited_strategy_counts_a_burst_and_waits_for_it(
    make_app: AppFactory, request: pytest.FixtureRequest, emulator: EmulatorProcess, shared: bool
) -> None:
    settings = {"redis_url": request.getfixturevalue("redis_url")} if shared else {}
    client = make_app(**settings).test_client()
    assert len(client.get("/cat_async/25").json or []) == 20
    response = client.get("/cat_async_limited/10")
    assert response.status_code == 200
    assert len(response.json or []) == 10
    assert sent(emulator) == {"200": 30, "429": 5}  # the limited call met no 429


def test_workers_sharing_redis_share_the_overdraft(
    make_app: AppFactory, redis_url: str, emulator: EmulatorProcess
) -> None:
    one, two = (make_app(redis_url=redis_url).test_client() for _ in range(2))
    assert one.get("/cat_async/30").status_code == 200
    assert two.get("/cat_async/30").status_code == 503
    assert sum(sent(emulator).values()) == 30


def test_open_serves_it_unbounded(make_app: AppFactory, emulator: EmulatorProcess) -> None:
    client = make_app(unlimited="open").test_client()
    assert client.get("/cat_async/50").status_code == 200
    assert client.get("/cat_async/50").status_code == 200
    assert sum(sent(emulator).values()) == 100


def test_off_serves_only_the_limited_strategy(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    client = make_app(unlimited="off").test_client()
    for path in ("/cat/3", "/cat_async/3"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json is not None
        assert "/cat_async_limited/3" in response.json["error"]
    assert len(client.get("/cat_async_limited/3").json or []) == 3
    assert sent(emulator) == {"200": 3}


def test_the_setting_names_its_values() -> None:
    assert Settings.load({"CATFACTS_UNLIMITED_STRATEGIES": "Off"}).unlimited == "off"
    with pytest.raises(ConfigError, match=r"STRATEGIES='some': must be one of bounded, open, off"):
        Settings.load({"CATFACTS_UNLIMITED_STRATEGIES": "some"})


@pytest.mark.parametrize("before", ["/cat_async/5", "/cat/5"])
def test_requests_sent_past_the_limiter_are_not_read_as_another_clients(
    make_app: AppFactory, emulator: EmulatorProcess, before: str
) -> None:
    """The upstream counts them, and they are ours: a limited call right after leaves them no
    room for a neighbour (half a window, 5 s here, before this was known), and goes at once."""
    emulator.control.configure(rate_limit="20 per 10 seconds")
    client = make_app(rate="20 per 10 seconds").test_client()
    assert client.get(before).status_code == 200
    started = time.monotonic()
    response = client.get("/cat_async_limited/3")
    took = time.monotonic() - started
    assert response.status_code == 200
    assert len(response.json or []) == 3
    assert sent(emulator) == {"200": 8}
    assert took < 2.5, took  # not the 5 s left to a neighbour who was never there
