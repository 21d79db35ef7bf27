"""The emulator's fixed-window throttle, on an injected clock so every window edge is exact."""

from __future__ import annotations

import pytest

from catfacts.emulator.throttle import FixedWindowThrottle, parse_rates
from catfacts.rates import Rate

WALL_START = 1_700_000_000.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_throttle(limit: int, window: float, clock: FakeClock) -> FixedWindowThrottle:
    """A throttle of one rate whose wall clock stays WALL_START seconds ahead of `clock`."""
    return make_multi_throttle([Rate(limit, window)], clock)


def make_multi_throttle(rates: list[Rate], clock: FakeClock) -> FixedWindowThrottle:
    """A throttle of several rates whose wall clock stays WALL_START seconds ahead of `clock`."""
    return FixedWindowThrottle(rates, clock=clock, wall_clock=lambda: WALL_START + clock.now)


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
    ("text", "rates"),
    [
        ("100/minute", (Rate(100, 60.0),)),
        ("20/second", (Rate(20, 1.0),)),
        ("30 per 2 seconds", (Rate(30, 2.0),)),
        ("5 per hour", (Rate(5, 3600.0),)),
        ("20/second;1000/hour", (Rate(20, 1.0), Rate(1000, 3600.0))),
        ("1/second; 2/minute", (Rate(1, 1.0), Rate(2, 60.0))),
        ("1/second,2/minute", (Rate(1, 1.0), Rate(2, 60.0))),
    ],
)
def test_rates_are_read_in_the_notation_of_the_limits_package(
    text: str, rates: tuple[Rate, ...]
) -> None:
    assert parse_rates(text) == rates


@pytest.mark.parametrize(
    "text", ["", "abc", "0/second", "ten/minute", "1/second;0/minute", "1/second;", ";"]
)
def test_a_bad_rate_is_refused_with_the_text_in_the_message(text: str) -> None:
    with pytest.raises(ValueError, match=f"bad rate limit {text!r}"):
        parse_rates(text)


# --- Several rates at once -------------------------------------------------------------------


def test_a_hit_passes_only_if_every_window_has_room() -> None:
    clock = FakeClock(0.0)
    throttle = make_multi_throttle([Rate(2, 1.0), Rate(3, 10.0)], clock)
    assert [throttle.hit("a").allowed for _ in range(3)] == [True, True, False]  # 1 s window full
    clock.now = 1.0  # a new 1 s window; the 10 s one has room for one more
    assert [throttle.hit("a").allowed for _ in range(2)] == [True, False]
    clock.now = 2.0  # the 1 s window has room, but the 10 s one is full until 10
    assert not throttle.hit("a").allowed
    clock.now = 10.0
    assert throttle.hit("a").allowed


def test_a_refused_hit_is_counted_in_no_window_and_opens_none() -> None:
    clock = FakeClock(0.0)
    throttle = make_multi_throttle([Rate(1, 1.0), Rate(2, 10.0)], clock)
    assert throttle.hit("a").allowed
    assert not throttle.hit("a").allowed  # the 1 s window is full: not counted in the 10 s one
    clock.now = 5.0
    assert throttle.hit("a").allowed  # so the 10 s window still had room for this one
    clock.now = 6.5
    assert not throttle.hit("a").allowed  # the 10 s window is full; no new 1 s window opens
    clock.now = 10.0
    decision = throttle.hit("a")  # the first counted hit after 6.5 opens the 1 s window at 10
    assert decision.allowed
    assert [policy.resets_in for policy in decision.policies] == [1.0, 10.0]


def test_every_window_is_reported_and_the_binding_one_has_the_fewest_left() -> None:
    clock = FakeClock(0.0)
    throttle = make_multi_throttle([Rate(3, 1.0), Rate(4, 60.0)], clock)
    first = throttle.hit("a")
    assert [(p.rate, p.remaining, p.resets_in) for p in first.policies] == [
        (Rate(3, 1.0), 2, 1.0),
        (Rate(4, 60.0), 3, 60.0),
    ]
    assert (first.limit, first.remaining, first.resets_in) == (3, 2, 1.0)
    clock.now = 1.0
    tied = throttle.hit("a")  # 2 left in the second 1 s window and 2 in the minute
    assert (tied.limit, tied.remaining, tied.resets_in) == (4, 2, 59.0)  # the longer one binds
    emptied = throttle.hit("a")
    assert (emptied.limit, emptied.remaining) == (4, 1)


def test_a_refusal_waits_for_the_full_window_that_resets_last() -> None:
    clock = FakeClock(0.0)
    throttle = make_multi_throttle([Rate(1, 10.0), Rate(1, 60.0), Rate(5, 3600.0)], clock)
    throttle.hit("a")
    clock.now = 20.5  # the 10 s window is over; the minute one is full
    refused = throttle.hit("a")
    assert not refused.allowed
    assert (refused.limit, refused.remaining, refused.retry_after) == (1, 0, 39)
    assert refused.reset_at == int(WALL_START + 20.5) + 39
    assert [p.remaining for p in refused.policies] == [1, 0, 4]
    clock.now = 5.0  # both short windows full: the later reset, at 60, is the one to wait for
    throttle.reset()
    throttle.hit("a")
    assert throttle.hit("a").retry_after == 60


def test_one_rate_behaves_as_before() -> None:
    clock = FakeClock(0.0)
    throttle = make_throttle(2, 10.0, clock)
    decisions = [throttle.hit("a") for _ in range(3)]
    assert [(d.allowed, d.limit, d.remaining) for d in decisions] == [
        (True, 2, 1),
        (True, 2, 0),
        (False, 2, 0),
    ]
    assert [len(d.policies) for d in decisions] == [1, 1, 1]
