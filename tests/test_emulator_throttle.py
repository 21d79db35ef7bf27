"""The emulator's fixed-window throttle, on an injected clock so every window edge is exact."""

from __future__ import annotations

import pytest

from catfacts.emulator.throttle import FixedWindowThrottle, Rate, parse_rate

WALL_START = 1_700_000_000.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_throttle(limit: int, window: float, clock: FakeClock) -> FixedWindowThrottle:
    """A throttle whose wall clock stays WALL_START seconds ahead of `clock`."""
    return FixedWindowThrottle(
        Rate(limit, window), clock=clock, wall_clock=lambda: WALL_START + clock.now
    )


def test_the_window_starts_at_the_first_hit_and_resets_exactly_at_its_end() -> None:
    clock = FakeClock(100.0)
    throttle = make_throttle(2, 10.0, clock)
    assert throttle.hit("a").allowed
    clock.now = 105.0
    assert throttle.hit("a").allowed
    clock.now = 109.999
    assert not throttle.hit("a").allowed
    clock.now = 110.0
    assert throttle.hit("a").allowed


def test_a_new_window_starts_at_the_first_hit_after_the_old_one_ended() -> None:
    clock = FakeClock(0.0)
    throttle = make_throttle(1, 10.0, clock)
    assert throttle.hit("a").allowed
    clock.now = 25.0  # idle through a whole window: the next one starts here, not at 20
    assert throttle.hit("a").allowed
    clock.now = 34.9
    assert not throttle.hit("a").allowed
    clock.now = 35.0
    assert throttle.hit("a").allowed


def test_remaining_counts_down_and_never_goes_negative() -> None:
    clock = FakeClock()
    throttle = make_throttle(3, 60.0, clock)
    remaining = [throttle.hit("a").remaining for _ in range(5)]
    assert remaining == [2, 1, 0, 0, 0]


def test_rejected_hits_are_not_counted() -> None:
    clock = FakeClock()
    throttle = make_throttle(2, 10.0, clock)
    decisions = [throttle.hit("a") for _ in range(50)]
    assert [d.allowed for d in decisions].count(True) == 2
    clock.now = 10.0  # the hammering neither extended the window nor spilled into the next
    assert [throttle.hit("a").remaining for _ in range(2)] == [1, 0]


@pytest.mark.parametrize(
    ("at", "retry_after"),
    [(0.0, 10), (0.5, 9), (1.0, 9), (1.5, 8), (8.9, 1), (9.0, 1), (9.5, 0), (9.999, 0)],
)
def test_retry_after_is_the_time_left_rounded_down(at: float, retry_after: int) -> None:
    clock = FakeClock(0.0)
    throttle = make_throttle(1, 10.0, clock)
    throttle.hit("a")
    clock.now = at
    decision = throttle.hit("a")
    assert not decision.allowed
    assert decision.retry_after == retry_after


def test_reset_at_is_the_current_unix_second_plus_retry_after() -> None:
    clock = FakeClock(0.0)
    throttle = make_throttle(1, 60.0, clock)
    throttle.hit("a")
    clock.now = 20.7
    decision = throttle.hit("a")
    assert decision.retry_after == 39
    assert decision.reset_at == int(WALL_START + 20.7) + 39


def test_each_key_has_its_own_window() -> None:
    clock = FakeClock(0.0)
    throttle = make_throttle(1, 10.0, clock)
    assert throttle.hit("a").allowed
    clock.now = 5.0
    assert throttle.hit("b").allowed
    assert not throttle.hit("a").allowed
    clock.now = 10.0
    assert throttle.hit("a").allowed
    assert not throttle.hit("b").allowed  # b's window runs until 15
    clock.now = 15.0
    assert throttle.hit("b").allowed


def test_reset_forgets_every_window() -> None:
    clock = FakeClock()
    throttle = make_throttle(1, 10.0, clock)
    throttle.hit("a")
    throttle.reset()
    assert throttle.hit("a").allowed


def test_a_decision_carries_the_limit() -> None:
    throttle = make_throttle(7, 1.0, FakeClock())
    assert throttle.hit("a").limit == 7


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/minute", Rate(100, 60.0)),
        ("20/second", Rate(20, 1.0)),
        ("30 per 2 seconds", Rate(30, 2.0)),
        ("5 per hour", Rate(5, 3600.0)),
    ],
)
def test_rates_are_read_in_the_notation_of_the_limits_package(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "abc", "0/second", "ten/minute", "1/second;2/minute"])
def test_a_bad_rate_is_refused_with_the_text_in_the_message(text: str) -> None:
    with pytest.raises(ValueError, match="bad rate limit"):
        parse_rate(text)
