"""Learning the rates: what the upstream announces, its window found, a pace when it says nothing.

Lower at once, higher after a window; configured rates stay a ceiling.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catfacts.rates import Rate, Rates
from catfacts.strategies.limited.learning import Answer, RateLearner
from catfacts.strategies.limited.pace import START
from catfacts.upstream.headers import Quota

CEILING = Rates((Rate(20, 1.0),))


def heard(quota: Quota | None, now: float, refused: bool = False, rtt: float = 0.0) -> Answer:
    return Answer(quota, now - rtt, now, refused)


def rate(learner: RateLearner) -> tuple[int, float]:
    tightest = learner.rates.tightest
    assert tightest is not None
    return tightest.limit, tightest.window


def test_a_lower_limit_is_obeyed_at_once() -> None:
    learner = RateLearner(CEILING)
    assert learner.hear(heard(Quota(limit=10, remaining=9), 0.0))
    assert rate(learner) == (10, 1.0)


def test_a_higher_limit_is_believed_once_announced_for_a_whole_window() -> None:
    learner = RateLearner(CEILING)
    learner.hear(heard(Quota(limit=10, remaining=9), 0.0))
    assert not learner.hear(heard(Quota(limit=20, remaining=19), 1.0))
    assert not learner.hear(heard(Quota(limit=20, remaining=18), 1.5))
    assert learner.hear(heard(Quota(limit=20, remaining=17), 2.0))
    assert rate(learner) == (20, 1.0)


def test_one_odd_answer_does_not_raise_the_limit() -> None:
    learner = RateLearner(CEILING)
    learner.hear(heard(Quota(limit=10, remaining=9), 0.0))
    learner.hear(heard(Quota(limit=20, remaining=19), 1.0))
    learner.hear(heard(Quota(limit=10, remaining=8), 1.5))  # back to 10: the count starts again
    assert not learner.hear(heard(Quota(limit=20, remaining=19), 2.1))
    assert rate(learner) == (10, 1.0)


def test_the_configured_rate_stays_a_ceiling() -> None:
    learner = RateLearner(CEILING)
    for now in (0.0, 5.0, 10.0):
        learner.hear(heard(Quota(limit=500, remaining=499, window=1.0), now))
    assert learner.rates == CEILING
    learner.hear(heard(Quota(limit=20, remaining=19, window=2.0), 11.0))  # a longer window
    assert rate(learner) == (20, 2.0)


def test_configured_and_learned_rates_both_bind() -> None:
    learner = RateLearner(Rates((Rate(100, 60.0),)))
    policies = ((10, 1.0),)
    learner.hear(heard(Quota(limit=10, remaining=9, window=1.0, policies=policies), 0.0))
    assert learner.rates == Rates((Rate(10, 1.0), Rate(100, 60.0)))


def test_every_announced_policy_binds() -> None:
    learner = RateLearner(None)
    both = ((20, 1.0), (1000, 3600.0))
    assert learner.hear(heard(Quota(limit=20, remaining=19, window=3600.0, policies=both), 0.0))
    assert learner.rates == Rates((Rate(20, 1.0), Rate(1000, 3600.0)))
    assert learner.rates.pace is None


def test_auto_starts_paced_and_takes_the_first_policy_as_it_is() -> None:
    learner = RateLearner(None)
    assert learner.rates == Rates(pace=START)  # nothing known: evenly spaced, never a burst
    assert learner.hear(heard(Quota(limit=300, remaining=299, window=10.0), 0.0))
    assert learner.rates == Rates((Rate(300, 10.0),))


def test_auto_reads_the_window_from_the_reset_of_a_windows_first_hit() -> None:
    learner = RateLearner(None)
    learner.hear(heard(Quota(limit=20, remaining=19, reset_in=0.97), 0.0))
    assert rate(learner) == (20, 1.0)


def test_auto_finds_laravels_window_when_another_client_began_it() -> None:
    # Laravel announces no window and no reset on a 200. Someone else began the window: the
    # guess is a second more than seen; a refill after our first hit of the next window
    # proves it a second.
    learner = RateLearner(None)
    learner.hear(heard(Quota(limit=20, remaining=12), 0.01, rtt=0.005))
    learner.hear(heard(Quota(limit=20, remaining=0), 0.02, rtt=0.005))
    assert rate(learner) == (20, 2.0)
    assert not learner.windows.certain
    learner.hear(heard(Quota(limit=20, remaining=19), 1.02, rtt=0.005))  # our first hit
    learner.hear(heard(Quota(limit=20, remaining=0), 1.03, rtt=0.005))
    learner.hear(heard(Quota(limit=20, remaining=19), 2.035, rtt=0.005))  # refilled
    assert learner.windows.exact
    assert rate(learner) == (20, 1.0)


def test_a_window_proved_longer_than_guessed_is_obeyed_at_once() -> None:
    learner = RateLearner(None)
    learner.hear(heard(Quota(limit=20, remaining=12), 0.01, rtt=0.005))
    learner.hear(heard(Quota(limit=20, remaining=0), 0.02, rtt=0.005))
    refusal = Quota(limit=20, remaining=0, retry_after=28)
    assert learner.hear(heard(refusal, 1.03, refused=True, rtt=0.005))
    assert rate(learner)[1] >= 30.0


def test_auto_without_announcements_paces_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    learner = RateLearner(None)
    with caplog.at_level(logging.WARNING):
        for now in (0.0, 0.1, 0.2):
            learner.hear(heard(Quota(), now))
    assert learner.rates.policies == ()
    assert learner.rates.pace == START
    assert caplog.text.count("announces no rate limit") == 1


def test_auto_without_announcements_speeds_up_until_refused_then_settles() -> None:
    learner = RateLearner(None)
    now, sent = 0.0, 0.0
    while (learner.rates.pace or 0) < 16:
        pace = learner.rates.pace or START
        sent, now = now, now + 1 / pace
        learner.hear(Answer(Quota(), sent, sent + 0.005))
    assert learner.hear(Answer(Quota(), now, now + 0.005, refused=True))
    assert learner.rates.pace == 8.0  # the last pace that held
    assert learner.rates.policies == ()


def test_a_configured_rate_refused_without_a_word_is_paced_from_its_rate() -> None:
    learner = RateLearner(CEILING)
    assert not learner.hear(heard(Quota(), 0.0))  # nothing said, nothing refused: as configured
    assert learner.hear(heard(Quota(), 0.1, refused=True, rtt=0.005))
    assert learner.rates == Rates((Rate(20, 1.0),), pace=20.0)
    assert learner.hear(Answer(Quota(), 0.15, 0.16, refused=True))
    assert learner.rates.pace is not None and learner.rates.pace < 20.0


def test_a_timeout_teaches_nothing() -> None:
    learner = RateLearner(CEILING)
    assert not learner.hear(heard(None, 0.0))
    assert not learner.hear(heard(None, 0.1, refused=True))
    assert learner.rates == CEILING


def test_rates_another_worker_learned_are_taken_and_not_published_back() -> None:
    learner = RateLearner(None)
    learner.hear(heard(Quota(limit=20, remaining=19, window=1.0), 0.0))
    shared = Rates((Rate(10, 1.0),))
    learner.adopt(shared)
    assert learner.rates == shared
    # The same evidence again is no news; a looser announcement waits a window as ever.
    assert not learner.hear(heard(Quota(limit=10, remaining=5, window=1.0), 0.5))
    assert not learner.hear(heard(Quota(limit=20, remaining=18, window=1.0), 0.6))
    assert learner.rates == shared


def test_an_adopted_pace_goes_on_from_there() -> None:
    learner = RateLearner(None)
    learner.hear(heard(Quota(), 0.0))
    learner.adopt(Rates(pace=12.0))
    assert learner.rates == Rates(pace=12.0)
    learner.adopt(Rates((Rate(5, 1.0),)))
    assert learner.rates == Rates((Rate(5, 1.0),))


ANNOUNCEMENTS = st.lists(
    st.tuples(
        st.builds(
            Quota,
            limit=st.none() | st.integers(0, 1000),
            remaining=st.none() | st.integers(0, 1000),
            window=st.none() | st.floats(0, 3600),
            reset_in=st.none() | st.floats(0, 3600),
            retry_after=st.none() | st.integers(0, 3600),
            policies=st.lists(
                st.tuples(st.integers(0, 1000), st.floats(0.001, 3600)), max_size=3
            ).map(tuple),
        )
        | st.none(),
        st.booleans(),
    ),
    max_size=30,
)


@given(ANNOUNCEMENTS, st.booleans())
def test_whatever_is_announced_the_rates_stay_sane(
    answers: list[tuple[Quota | None, bool]], capped: bool
) -> None:
    learner = RateLearner(CEILING if capped else None)
    for now, (quota, refused) in enumerate(answers):
        learner.hear(Answer(quota, now - 0.01, float(now), refused))
        rates = learner.rates
        assert rates.policies or rates.pace
        for policy in rates.policies:
            assert policy.limit >= 1
            assert policy.window > 0
        assert rates.pace is None or rates.pace > 0
        if capped:  # every configured policy binds, or a stricter one in its place
            assert all(
                any(p.limit <= c.limit and p.window >= c.window for p in rates.policies)
                for c in CEILING.policies
            )


def test_shared_a_window_another_worker_found_stands_against_this_workers_guess() -> None:
    learner = RateLearner(None, shared=True)
    learner.adopt(Rates.decode("10:1000|"))  # another worker bounded it: 10 a second
    # Our share of the answers: one from a window someone else began, then its last slot.
    learner.hear(heard(Quota(limit=10, remaining=6), 0.30, rtt=0.005))
    learner.hear(heard(Quota(limit=10, remaining=0), 0.60, rtt=0.005))
    assert rate(learner) == (10, 1.0)
    alone = RateLearner(None)  # not shared: the same answers make a guess of its own
    alone.hear(heard(Quota(limit=10, remaining=6), 0.30, rtt=0.005))
    alone.hear(heard(Quota(limit=10, remaining=0), 0.60, rtt=0.005))
    assert alone.rates.policies[0].guess


def test_shared_a_refusal_overrides_a_window_found_too_short() -> None:
    learner = RateLearner(None, shared=True)
    learner.adopt(Rates.decode("10:1000|"))
    learner.hear(heard(Quota(limit=5, remaining=0, retry_after=3), 0.5, refused=True))
    assert rate(learner)[0] == 5  # a lower limit, refused: obeyed at once


def test_a_guessed_window_is_shared_as_a_guess() -> None:
    guessed = Rates((Rate(10, 2.0, guess=True), Rate(100, 60.0)))
    assert Rates.decode(guessed.encode()).policies[0].guess
    assert not Rates.decode(guessed.encode()).policies[1].guess


def test_configured_limits_named_one_at_a_time_each_keep_their_window_evidence() -> None:
    # Laravel names whichever limit binds: 20 a second, then the 60 per 10 s one, then 20 again.
    learner = RateLearner(Rates.parse("20/second;60 per 10 seconds"))
    learner.hear(heard(Quota(limit=20, remaining=19), 0.005, rtt=0.005))  # the first hit
    learner.hear(heard(Quota(limit=20, remaining=0), 0.5, rtt=0.005))
    learner.hear(heard(Quota(limit=60, remaining=30), 1.01, rtt=0.005))
    learner.hear(heard(Quota(limit=20, remaining=19), 1.02, rtt=0.005))  # a refill: it ended
    assert learner.windows.bounds[1] < 1.1  # bounded by what the 20's finder saw, not anew
    assert learner.windows.window == 1.0


def test_a_configured_limit_named_late_is_placed_by_the_hits_it_counted() -> None:
    # 60 per 10 s is named only once it binds, two seconds into its window: its 41 hits are our
    # 41 requests, so it began with the first of them, and ends 10 s after, not 10 s after now.
    learner = RateLearner(Rates.parse("20/second;60 per 10 seconds"))
    for second in range(2):
        for left in range(19, -1, -1):
            learner.hear(heard(Quota(limit=20, remaining=left), second + 0.005, rtt=0.005))
    learner.hear(heard(Quota(limit=60, remaining=19), 2.005, rtt=0.005))
    assert learner.windows.window == 10.0
    assert learner.windows.ends_by() == pytest.approx(10.005)
    # Had another client spent some of it, the window's start stays unknown: its first answer.
    other = RateLearner(Rates.parse("20/second;60 per 10 seconds"))
    other.hear(heard(Quota(limit=20, remaining=19), 0.005, rtt=0.005))
    other.hear(heard(Quota(limit=60, remaining=19), 2.005, rtt=0.005))
    assert other.windows.ends_by() == pytest.approx(12.005)
