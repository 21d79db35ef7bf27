"""Every rate-limit dialect read into one Quota; the stricter wins; nothing malformed is fatal."""

from __future__ import annotations

import dataclasses
import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catfacts.upstream.headers import Quota

NOW = 1_800_000_000.0  # a wall-clock time, in epoch seconds


def read(**headers: str) -> Quota:
    return Quota.from_headers({name.replace("_", "-"): v for name, v in headers.items()}, NOW)


def test_laravel_says_limit_and_remaining() -> None:
    quota = read(X_RateLimit_Limit="100", X_RateLimit_Remaining="42")
    assert quota == Quota(limit=100, remaining=42)


@pytest.mark.parametrize(
    "reset",
    ["17", str(int(NOW) + 17), str(int(NOW * 1000) + 17000)],
    ids=["delta seconds", "epoch seconds", "epoch milliseconds"],
)
def test_a_reset_is_told_apart_by_its_size(reset: str) -> None:
    assert read(X_RateLimit_Reset=reset).reset_in == pytest.approx(17.0)


def test_a_reset_in_the_past_is_now() -> None:
    assert read(X_RateLimit_Reset=str(int(NOW) - 5)).reset_in == 0.0


def test_the_ietf_draft_10_fields_give_quota_window_remaining_and_reset() -> None:
    quota = read(RateLimit_Policy='"default";q=100;w=60', RateLimit='"default";r=42;t=17')
    assert quota == Quota(
        limit=100,
        remaining=42,
        window=60.0,
        reset_in=17.0,
        policies=((100, 60.0),),
        reset_slack=0.0,  # t is rounded up: the reset comes no later
    )


def test_of_several_policies_the_one_with_fewest_left_binds() -> None:
    quota = read(
        RateLimit_Policy='"burst";q=10;w=1, "daily";q=1000;w=86400',
        RateLimit='"burst";r=9;t=1, "daily";r=3;t=5000',
    )
    assert (quota.remaining, quota.reset_in) == (3, 5000.0)
    assert (quota.limit, quota.window) == (10, 86400.0)
    assert set(quota.policies) == {(10, 1.0), (1000, 86400.0)}  # each binds


def test_every_policy_announced_is_kept() -> None:
    quota = read(
        RateLimit_Policy='"1s";q=20;w=1, "3600s";q=1000;w=3600',
        RateLimit='"1s";r=19;t=1, "3600s";r=999;t=3600',
    )
    assert quota.policies == ((20, 1.0), (1000, 3600.0))
    assert (quota.remaining, quota.reset_in, quota.reset_slack) == (19, 1.0, 0.0)


def test_a_policy_without_a_window_is_no_policy() -> None:
    assert read(RateLimit_Policy='"default";q=100', RateLimit='"default";r=1').policies == ()


def test_the_earlier_drafts_separate_fields_are_read_too() -> None:
    quota = read(RateLimit_Limit="50", RateLimit_Remaining="5", RateLimit_Reset="9")
    assert quota == Quota(limit=50, remaining=5, reset_in=9.0)  # rounding unknown: taken down


def test_where_dialects_disagree_the_stricter_wins() -> None:
    quota = read(
        X_RateLimit_Limit="100",
        X_RateLimit_Remaining="40",
        RateLimit_Policy='"default";q=60;w=60',
        RateLimit='"default";r=7;t=30',
    )
    assert quota == Quota(
        limit=60, remaining=7, window=60.0, reset_in=30.0, policies=((60, 60.0),), reset_slack=0
    )


@pytest.mark.parametrize(
    ("reset", "slack"),
    [
        ("17", 1.0),  # delta seconds: taken as rounded down
        ("17.25", 0.001),  # a fraction: exact to the millisecond
        (str(int(NOW) + 17), 1.0),  # epoch seconds, rounded down
        (str(int(NOW * 1000) + 17000), 0.001),  # epoch milliseconds
    ],
)
def test_each_reset_says_how_much_later_the_true_one_may_be(reset: str, slack: float) -> None:
    assert read(X_RateLimit_Reset=reset).reset_slack == slack


def test_the_reset_span_is_when_the_window_may_end() -> None:
    assert read(X_RateLimit_Reset="17").reset_span == (17.0, 18.0)  # rounded down
    ietf = read(RateLimit_Policy='"p";q=5;w=20', RateLimit='"p";r=1;t=17')
    assert ietf.reset_span == (16.0, 17.0)  # rounded up
    millis = read(X_RateLimit_Reset=str(int(NOW * 1000) + 17250)).reset_span
    assert millis == pytest.approx((17.25, 17.251))
    assert Quota().reset_span is None


def test_retry_after_in_seconds_may_hide_a_second() -> None:
    quota = read(Retry_After="3")
    assert (quota.retry_after, quota.retry_slack, quota.retry_span) == (3, 1.0, (3.0, 4.0))


def test_an_http_date_is_the_latest_moment_meant() -> None:
    date = email.utils.formatdate(NOW + 7, usegmt=True)
    quota = Quota.from_headers({"Retry-After": date}, NOW + 0.25)
    assert quota.retry_after == 7  # whole seconds for the caller, rounded up
    assert quota.retry_slack == pytest.approx(-0.25)
    assert quota.retry_span == pytest.approx((5.75, 6.75))  # the date, exactly, at the latest


def test_retry_after_stands_over_the_reset() -> None:
    quota = read(Retry_After="5", X_RateLimit_Reset="2")
    assert quota.wait_span == (5.0, 6.0)
    assert read(X_RateLimit_Reset="2").wait_span == (2.0, 3.0)


def test_an_answer_that_says_nothing() -> None:
    assert Quota().says_nothing
    assert Quota(retry_after=1).says_nothing is False
    assert Quota(limit=10).says_nothing is False


def test_retry_after_may_be_seconds_or_an_http_date() -> None:
    assert read(Retry_After="12").retry_after == 12
    date = email.utils.formatdate(NOW + 7.5, usegmt=True)
    assert read(Retry_After=date).retry_after == 7  # the date has whole seconds: 7 left
    past = email.utils.formatdate(NOW - 60, usegmt=True)
    assert read(Retry_After=past).retry_after == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"RateLimit-Policy": "default;q=;;"},
        {"RateLimit": '"default";r=-1;t=nope'},
        {"RateLimit-Policy": '"default";q="100";w=1.5'},
        {"X-RateLimit-Limit": "NaN", "X-RateLimit-Reset": "inf"},
        {"Retry-After": "Someday, 99 Foo 10000 99:99:99 GMT"},
        {"RateLimit-Policy": "\u00e9"},
    ],
)
def test_malformed_values_are_ignored(headers: dict[str, str]) -> None:
    quota = Quota.from_headers(headers, NOW)
    assert quota.limit is None
    assert quota.window is None
    assert quota.retry_after is None


NAMES = st.sampled_from(
    [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "RateLimit",
        "RateLimit-Policy",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
    ]
)


@given(st.dictionaries(NAMES, st.text(max_size=80)))
def test_any_header_values_give_a_quota_and_never_an_error(headers: dict[str, str]) -> None:
    quota = Quota.from_headers(headers, NOW)
    for count in (quota.limit, quota.remaining, quota.retry_after):
        assert count is None or count >= 0
    for seconds in (quota.window, quota.reset_in):
        assert seconds is None or 0 <= seconds < float("inf")


@given(
    limit=st.integers(0, 10**9),
    remaining=st.integers(0, 10**9),
    window=st.integers(1, 10**6),
    reset=st.integers(0, 10**6),
)
def test_well_formed_ietf_fields_read_back_exactly(
    limit: int, remaining: int, window: int, reset: int
) -> None:
    quota = read(
        RateLimit_Policy=f'"p";q={limit};w={window}', RateLimit=f'"p";r={remaining};t={reset}'
    )
    expected = Quota(limit, remaining, float(window), float(reset), policies=((limit, window),))
    assert quota == dataclasses.replace(expected, reset_slack=0.0)
