"""The emulator speaks each rate-limit dialect, and the service's header reader understands it."""

from __future__ import annotations

import pytest

from catfacts.emulator.process import EmulatorControlError, EmulatorProcess
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
        EmulatorControlError, match="dialect must be one of laravel, github, ietf, none"
    ):
        emulator.control.configure(dialect="klingon")
