"""The emulator speaks each rate-limit dialect, and the service's header reader understands it."""

from __future__ import annotations

import time

import pytest
import urllib3

from catfacts.emulator.process import EmulatorControlError, EmulatorProcess, max_in_any_window
from catfacts.upstream.headers import Quota
from tests.support import Api


def answers(api: Api, emulator: EmulatorProcess, dialect: str) -> tuple[Quota, Quota]:
    """What the first of 3 allowed requests says, and what the refused 4th says."""
    emulator.control.configure(rate_limit="3 per 10 seconds", dialect=dialect)
    first = api.get("/fact")
    for _ in range(2):
        api.get("/fact")
    refused = api.get("/fact")
    assert (first.status, refused.status) == (200, 429)
    return Quota.from_headers(first.headers), Quota.from_headers(refused.headers)


def test_laravel_announces_the_limit_but_no_window(api: Api, emulator: EmulatorProcess) -> None:
    first, refused = answers(api, emulator, "laravel")
    assert (first.limit, first.remaining, first.window, first.reset_in) == (3, 2, None, None)
    assert refused.remaining == 0
    assert refused.retry_after in range(8, 11)
    assert refused.reset_in is not None
    assert 8 <= refused.reset_in <= 11


def test_github_announces_the_reset_on_every_answer(api: Api, emulator: EmulatorProcess) -> None:
    first, refused = answers(api, emulator, "github")
    assert (first.limit, first.remaining, first.window) == (3, 2, None)
    assert first.reset_in is not None
    assert 9 <= first.reset_in <= 11
    assert (refused.remaining, refused.retry_after) == (0, None)


def test_ietf_announces_the_policy(api: Api, emulator: EmulatorProcess) -> None:
    first, refused = answers(api, emulator, "ietf")
    assert (first.limit, first.remaining, first.window, first.reset_in) == (3, 2, 10.0, 10.0)
    assert refused.remaining == 0
    assert refused.retry_after in range(8, 12)  # an HTTP date, rounded up to whole seconds


def test_none_announces_nothing(api: Api, emulator: EmulatorProcess) -> None:
    first, refused = answers(api, emulator, "none")
    assert first == refused == Quota()


def test_an_unknown_dialect_is_refused(emulator: EmulatorProcess) -> None:
    with pytest.raises(
        EmulatorControlError, match="dialect must be one of laravel, github, ietf, none, proxy"
    ):
        emulator.control.configure(dialect="klingon")


# --- Several rates at once -------------------------------------------------------------------


def test_ietf_lists_every_policy_named_by_its_window(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="3 per 10 seconds;5/minute", dialect="ietf")
    first = api.get("/fact")
    assert first.headers["RateLimit-Policy"] == '"10s";q=3;w=10, "60s";q=5;w=60'
    assert first.headers["RateLimit"] == '"10s";r=2;t=10, "60s";r=4;t=60'
    assert "Retry-After" not in first.headers
    for _ in range(2):
        api.get("/fact")
    refused = api.get("/fact")
    assert refused.status == 429
    assert refused.headers["RateLimit"].startswith('"10s";r=0;t=')
    assert '"60s";r=2;t=' in refused.headers["RateLimit"]  # the refused hit was not counted
    quota = Quota.from_headers(refused.headers)
    assert (quota.limit, quota.remaining) == (3, 0)  # the service's reader sees the binding one
    assert quota.retry_after in range(8, 12)


def test_ietf_keeps_the_default_name_for_a_single_rate(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="3 per 10 seconds", dialect="ietf")
    first = api.get("/fact")
    assert first.headers["RateLimit-Policy"] == '"default";q=3;w=10'
    assert first.headers["RateLimit"] == '"default";r=2;t=10'


def told(response: urllib3.BaseHTTPResponse) -> tuple[str, str]:
    """The limit and the remaining count that an X-RateLimit answer tells."""
    return response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]


def test_laravel_tells_the_binding_limit_and_waits_for_the_full_window(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="2/second;3 per 10 seconds", dialect="laravel")
    first, second, refused = (api.get("/fact") for _ in range(3))
    assert [r.status for r in (first, second, refused)] == [200, 200, 429]
    assert told(first) == ("2", "1")
    assert (told(refused), refused.headers["Retry-After"]) == (("2", "0"), "0")
    time.sleep(1.0)  # a new one-second window; the ten-second one has one hit left
    third, refused = api.get("/fact"), api.get("/fact")
    assert (third.status, refused.status) == (200, 429)
    assert told(third) == ("3", "0")
    assert told(refused) == ("3", "0")
    assert int(refused.headers["Retry-After"]) in range(7, 10)
    arrivals = emulator.control.arrivals()
    assert [status for _, status in arrivals] == [200, 200, 429, 200, 429]
    for limit, window in emulator.control.rate_policies():
        assert max_in_any_window(arrivals, window, statuses={200}) <= limit


def test_github_tells_the_binding_limit(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="5/minute;2 per 10 seconds", dialect="github")
    first = api.get("/fact")
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Used"]) == ("2", "1")
    quota = Quota.from_headers(first.headers)
    assert quota.reset_in is not None
    assert 9 <= quota.reset_in <= 11
