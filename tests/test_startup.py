"""Starting the service: bad settings stop it with one clear line; `make run` serves offline."""

from __future__ import annotations

import json
import socket
import sys
import urllib.request

import pytest

from bench.processes import ServiceProcess, catfacts_env, free_port
from catfacts.errors import ConfigError
from catfacts.rates import Rate, Rates
from catfacts.settings import Settings

SERVE = [sys.executable, "-m", "catfacts"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CATFACTS_RATE_LIMIT", "lots"),
        ("CATFACTS_RATE_LIMIT", "0/second"),
        ("CATFACTS_UPSTREAM_URL", "catfact.ninja"),
        ("CATFACTS_UPSTREAM_TIMEOUT", "-1"),
        ("CATFACTS_UPSTREAM_TIMEOUT", "soon"),
        ("CATFACTS_MAX_FACTS", "0"),
        ("CATFACTS_PORT", "70000"),
        ("CATFACTS_LOG_LEVEL", "LOUD"),
        ("CATFACTS_MAX_CALLS", "5000"),
        ("WEB_CONCURRENCY", "abc"),
        ("WEB_CONCURRENCY", "0"),
        ("CATFACTS_REDIS_URL", "http://cache:6379"),
        ("CATFACTS_REDIS_URL", "redis://a:6379,b:6379"),
        ("CATFACTS_REDIS_URL", "redis://cache/x"),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_reason(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}='{value}': .+"):
        Settings.load({variable: value})


def test_rates_use_the_notation_of_the_limits_package() -> None:
    rate = Settings.load({"CATFACTS_RATE_LIMIT": "30 per 2 seconds"}).rate
    assert rate is not None
    assert rate.policies == (Rate(30, 2.0),)
    assert Settings.load({}).rate == Rates((Rate(100, 60.0),))
    several = Settings.load({"CATFACTS_RATE_LIMIT": "20/second;1000/hour"}).rate
    assert several == Rates((Rate(20, 1.0), Rate(1000, 3600.0)))
    assert Settings.load({"CATFACTS_RATE_LIMIT": "auto"}).rate is None


def test_a_bad_setting_stops_start_up_with_one_line() -> None:
    service = ServiceProcess(SERVE, catfacts_env(CATFACTS_RATE_LIMIT="lots"))
    assert service.wait() != 0
    assert service.output.strip().splitlines() == [
        "catfacts: CATFACTS_RATE_LIMIT='lots': "
        "not a rate like '100/minute', '20/second;1000/hour' or '30 per 2 seconds'"
    ]


def test_a_taken_port_stops_start_up_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = ServiceProcess([*SERVE, "--port", str(port)], catfacts_env())
        assert service.wait() != 0
    lines = service.output.strip().splitlines()
    assert len(lines) == 1
    assert f"CATFACTS_PORT={port}" in lines[0]
    assert "already in use" in lines[0]


def test_gunicorn_itself_stops_with_one_line_on_a_bad_setting() -> None:
    gunicorn = [sys.executable, "-m", "gunicorn", "catfacts:create_app()"]
    service = ServiceProcess(gunicorn, catfacts_env(CATFACTS_UPSTREAM_TIMEOUT="soon"))
    assert service.wait() != 0
    assert service.output.strip().splitlines() == [
        "catfacts: CATFACTS_UPSTREAM_TIMEOUT='soon': not a number of seconds"
    ]


def test_make_run_serves_facts_from_the_embedded_upstream_and_stops_cleanly() -> None:
    port = free_port()
    service = ServiceProcess([*SERVE, "--port", str(port)], catfacts_env())
    try:
        upstream = service.wait_for_line(r"embedded Cat Facts API listening on (\S+)")[1]
        service.wait_for_line(rf"serving on http://127\.0\.0\.1:{port}")
        for route in ("cat", "cat_async"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{route}/3") as response:
                assert len(json.load(response)) == 3
    finally:
        assert service.stop() == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{upstream}/fact", timeout=2)


def test_several_workers_share_one_embedded_upstream() -> None:
    port = free_port()
    service = ServiceProcess([*SERVE, "--port", str(port), "--workers", "3"], catfacts_env())
    try:
        upstream = service.wait_for_line(r"embedded Cat Facts API listening on (\S+)")[1]
        service.wait_for_line(r"serving on")
        for _ in range(6):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/cat/2") as response:
                assert len(json.load(response)) == 2
        with urllib.request.urlopen(f"{upstream}/__emulator__/stats") as response:
            assert json.load(response)["statuses"] == {"200": 12}
    finally:
        assert service.stop() == 0
    assert service.output.count("embedded Cat Facts API listening") == 1
