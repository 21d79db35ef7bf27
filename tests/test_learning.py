"""Learning the rate from what the upstream announces: lower at once, higher after a window."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catfacts.dispatch.learning import RateLearner
from catfacts.settings import CAUTIOUS_RATE, Rate
from catfacts.upstream.headers import Quota

CEILING = Rate(20, 1.0, "20/second")


def rate(learner: RateLearner) -> tuple[int, float]:
    return learner.limit, learner.window


def test_a_lower_limit_is_obeyed_at_once() -> None:
    learner = RateLearner(CEILING)
    assert learner.hear(Quota(limit=10, remaining=9), 0.0)
    assert rate(learner) == (10, 1.0)


def test_a_higher_limit_is_believed_once_announced_for_a_whole_window() -> None:
    learner = RateLearner(CEILING)
    learner.hear(Quota(limit=10, remaining=9), 0.0)
    assert not learner.hear(Quota(limit=20, remaining=19), 1.0)
    assert not learner.hear(Quota(limit=20, remaining=18), 1.5)
    assert learner.hear(Quota(limit=20, remaining=17), 2.0)
    assert rate(learner) == (20, 1.0)


def test_one_odd_answer_does_not_raise_the_limit() -> None:
    learner = RateLearner(CEILING)
    learner.hear(Quota(limit=10, remaining=9), 0.0)
    learner.hear(Quota(limit=20, remaining=19), 1.0)
    learner.hear(Quota(limit=10, remaining=8), 1.5)  # back to 10: the count starts again
    assert not learner.hear(Quota(limit=20, remaining=19), 2.1)
    assert rate(learner) == (10, 1.0)


def test_the_configured_rate_stays_a_ceiling() -> None:
    learner = RateLearner(CEILING)
    for now in (0.0, 5.0, 10.0):
        learner.hear(Quota(limit=500, remaining=499, window=1.0), now)
    assert rate(learner) == (20, 1.0)
    learner.hear(Quota(limit=20, remaining=19, window=2.0), 11.0)  # a longer window: stricter
    assert rate(learner) == (20, 2.0)


def test_auto_takes_the_first_policy_as_it_is() -> None:
    learner = RateLearner(None)
    assert rate(learner) == (CAUTIOUS_RATE.limit, CAUTIOUS_RATE.window)
    assert learner.hear(Quota(limit=300, remaining=299, window=10.0), 0.0)
    assert rate(learner) == (300, 10.0)


def test_auto_reads_the_window_from_the_reset_of_a_windows_first_hit() -> None:
    learner = RateLearner(None)
    learner.hear(Quota(limit=20, remaining=19, reset_in=0.97), 0.0)
    assert rate(learner) == (20, 1.0)


def test_the_reset_of_a_refusal_says_nothing_of_the_window() -> None:
    learner = RateLearner(None)
    learner.hear(Quota(limit=1, remaining=0, reset_in=12.0), 0.0, refused=True)
    assert rate(learner) == (1, CAUTIOUS_RATE.window)


def test_auto_without_announcements_stays_cautious_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    learner = RateLearner(None)
    with caplog.at_level(logging.WARNING):
        for now in range(3):
            assert not learner.hear(Quota(), float(now))
    assert rate(learner) == (CAUTIOUS_RATE.limit, CAUTIOUS_RATE.window)
    assert caplog.text.count("announces no rate limit") == 1


ANNOUNCEMENTS = st.lists(
    st.builds(
        Quota,
        limit=st.none() | st.integers(0, 1000),
        remaining=st.none() | st.integers(0, 1000),
        window=st.none() | st.floats(0, 3600),
        reset_in=st.none() | st.floats(0, 3600),
    ),
    max_size=30,
)


@given(ANNOUNCEMENTS, st.booleans())
def test_whatever_is_announced_the_rate_stays_sane(answers: list[Quota], capped: bool) -> None:
    learner = RateLearner(CEILING if capped else None)
    for now, quota in enumerate(answers):
        learner.hear(quota, float(now))
        assert learner.limit >= 1
        assert learner.window > 0
        if capped:
            assert learner.limit <= CEILING.limit
            assert learner.window >= CEILING.window
