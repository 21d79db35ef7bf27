"""The limited strategy against each rate-limit dialect, configured or learning the rate itself."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from catfacts.emulator.process import EmulatorProcess, max_in_any_window
from tests.support import AppFactory, wait_until

LIMIT = 20  # the test emulator's 20/second


def fetch(app: Flask, n: int) -> list[str]:
    response = app.test_client().get(f"/cat_async_limited/{n}")
    assert response.status_code == 200, response.json
    facts = response.json
    assert isinstance(facts, list)
    return facts


@pytest.mark.parametrize("dialect", ["laravel", "github", "ietf", "none"])
def test_every_dialect_gives_exactly_n_with_zero_429s(
    make_app: AppFactory, emulator: EmulatorProcess, dialect: str
) -> None:
    emulator.control.configure(dialect=dialect, latency=0.005)
    assert len(fetch(make_app(), 45)) == 45
    assert emulator.control.stats()["statuses"] == {"200": 45}
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= LIMIT


@pytest.mark.parametrize("dialect", ["github", "ietf"])
def test_auto_learns_limit_and_window_and_runs_at_exactly_that(
    make_app: AppFactory, emulator: EmulatorProcess, dialect: str
) -> None:
    emulator.control.configure(dialect=dialect, latency=0.005)
    assert len(fetch(make_app(rate="auto"), 50)) == 50
    assert emulator.control.stats()["statuses"] == {"200": 50}
    arrivals = emulator.control.arrivals()
    assert max_in_any_window(arrivals, 1.0) <= LIMIT
    assert arrivals[-1][0] - arrivals[0][0] < 3.5  # 50 at 20 a second, not 60 a minute


def test_auto_with_laravel_learns_the_limit_and_finds_the_window_from_the_timing(
    make_app: AppFactory, emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.control.configure(dialect="laravel", latency=0.005)
    assert len(fetch(make_app(rate="auto"), 50)) == 50
    assert emulator.control.stats()["statuses"].get("429", 0) <= 2
    assert max_in_any_window(emulator.control.arrivals(), 1.0, {200}) <= LIMIT
    assert "announces 20 requests per 1 s" in caplog.text  # not the cautious minute


def test_auto_with_nothing_announced_runs_cautiously_and_says_so_once(
    make_app: AppFactory, emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.control.configure(dialect="none")
    app = make_app(rate="auto")
    assert len(fetch(app, 3)) == 3
    assert len(fetch(app, 2)) == 2
    assert emulator.control.stats()["statuses"] == {"200": 5}
    assert caplog.text.count("announces no rate limit: pacing") == 1  # never a burst


def test_a_limit_lowered_mid_run_is_obeyed_and_a_raised_one_reached_again(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(dialect="ietf", latency=0.005)
    app = make_app(rate="auto")

    def total() -> int:
        return int(emulator.control.stats()["total"])

    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(fetch, app, 140)
        wait_until(lambda: total() >= 30)
        emulator.control.configure(rate_limit="10/second")
        lowered_at = total()
        wait_until(lambda: total() >= lowered_at + 30)
        emulator.control.configure(rate_limit="20/second")
        raised_at = total()
        assert len(call.result(timeout=30)) == 140
    arrivals = emulator.control.arrivals()
    refused = [i for i, (_, status) in enumerate(arrivals) if status == 429]
    # Only what was already on its way when the lower limit was first announced is refused.
    assert all(lowered_at <= i < lowered_at + LIMIT for i in refused), refused
    low = arrivals[lowered_at + LIMIT : raised_at]
    assert max_in_any_window(low, 1.0) <= 10
    high = arrivals[raised_at:]
    assert max_in_any_window(high, 1.0) > 15  # the higher rate is reached again


def test_one_learned_rate_serves_many_callers(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(dialect="ietf", latency=0.005)
    app = make_app(rate="auto")
    results: list[int] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        got = len(fetch(app, n))
        with lock:
            results.append(got)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(one, [10] * 6))
    assert results == [10] * 6
    assert emulator.control.stats()["statuses"] == {"200": 60}
    assert max_in_any_window(emulator.control.arrivals(), 1.0) <= LIMIT
