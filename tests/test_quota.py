"""UpstreamQuota: credit from the upstream's headers, probes when unsure, waits that are exact."""

from __future__ import annotations

import pytest

from catfacts.rates import Rate, Rates
from catfacts.strategies.limited.quota import UpstreamQuota, wait_for_reset
from catfacts.strategies.limited.windows import Answer, WindowFinder
from catfacts.upstream.headers import Quota


def rates(limit: int, window: float) -> Rates:
    return Rates((Rate(limit, window),))


def test_it_probes_with_one_request_first_then_spends_what_remains() -> None:
    quota = UpstreamQuota(rates(10, 1.0))
    probe = quota.spend()
    assert quota.blocked_for(0.0) is None  # wait for the probe's answer
    quota.answered(probe, Quota(limit=10, remaining=6), 0.01)
    tickets = [quota.spend() for _ in range(6)]
    assert quota.blocked_for(0.02) is None
    quota.answered(tickets[0], Quota(limit=10, remaining=5), 0.03)
    assert quota.blocked_for(0.03) is None  # 5 remain, 5 in flight


def test_when_none_remain_it_waits_a_window_after_that_answer_then_probes() -> None:
    quota = UpstreamQuota(rates(3, 1.0))
    quota.answered(quota.spend(), Quota(limit=3, remaining=1), 0.0)  # someone else spent one
    quota.answered(quota.spend(), Quota(limit=3, remaining=0), 0.1)
    assert quota.blocked_for(0.6) == 1.1 - 0.6
    assert quota.blocked_for(1.1) == 0.0
    quota.spend()
    assert quota.blocked_for(1.1) is None  # one probe at a time


def test_a_window_spent_by_us_alone_is_followed_by_a_full_one_without_a_probe() -> None:
    quota = UpstreamQuota(rates(3, 1.0))
    probe = quota.spend()
    quota.answered(probe, Quota(limit=3, remaining=2), 0.0)
    tickets = [quota.spend(), quota.spend()]
    quota.answered(tickets[1], Quota(limit=3, remaining=0), 0.1)  # answers may come out of order
    quota.answered(tickets[0], Quota(limit=3, remaining=1), 0.1)
    assert quota.blocked_for(1.1) == 0.0
    for _ in range(3):
        assert quota.blocked_for(1.1) == 0.0
        quota.spend()


def test_answers_sent_before_a_429_are_stale() -> None:
    quota = UpstreamQuota(rates(10, 1.0))
    quota.answered(quota.spend(), Quota(remaining=9), 0.0)
    old = quota.spend()
    quota.unsure()
    quota.answered(old, Quota(remaining=8), 0.1)
    quota.spend()  # the probe
    assert quota.blocked_for(0.1) is None


def test_after_a_quiet_window_spent_by_us_alone_the_next_opens_in_full() -> None:
    quota = UpstreamQuota(rates(5, 1.0))
    quota.answered(quota.spend(), Quota(limit=5, remaining=4), 0.0)
    assert quota.blocked_for(0.5) == 0.0  # 4 remain
    for _ in range(5):
        assert quota.blocked_for(1.0) == 0.0
        quota.spend()


def test_after_a_quiet_window_shared_with_others_it_probes() -> None:
    quota = UpstreamQuota(rates(5, 1.0))
    quota.answered(quota.spend(), Quota(limit=5, remaining=2), 0.0)  # two hits were not ours
    assert quota.blocked_for(1.0) == 0.0
    quota.spend()
    assert quota.blocked_for(1.0) is None


def test_being_unsure_does_not_cut_short_a_wait_for_the_window() -> None:
    quota = UpstreamQuota(rates(3, 1.0))
    quota.answered(quota.spend(), Quota(remaining=0), 0.0)
    quota.unsure()
    assert quota.blocked_for(0.5) == 0.5
    quota.unsure(not_before=2.0)
    assert quota.blocked_for(1.5) == 0.5
    assert quota.blocked_for(2.0) == 0.0
    quota.spend()
    assert quota.blocked_for(2.0) is None  # then one probe


def test_an_upstream_without_rate_headers_leaves_the_limiter_in_charge() -> None:
    quota = UpstreamQuota(rates(10, 1.0))
    quota.answered(quota.spend(), Quota(), 0.0)
    for _ in range(10):
        assert quota.blocked_for(0.0) == 0.0
        quota.spend()


def test_answers_counted_out_of_order_leave_the_lowest_count_standing() -> None:
    quota = UpstreamQuota(rates(10, 1.0))
    quota.answered(quota.spend(), Quota(limit=10, remaining=9), 0.0)
    first, second = quota.spend(), quota.spend()
    # The later-sent request reached the upstream first: its count (8) is the older one.
    quota.answered(first, Quota(limit=10, remaining=7), 0.01)
    quota.answered(second, Quota(limit=10, remaining=8), 0.01)
    assert quota.credit == 7


@pytest.mark.parametrize(
    ("said", "window", "wait"),
    [
        (Quota(reset_in=7.0, reset_slack=0.0), 10.0, 7.0),  # IETF t: rounded up, exact enough
        (Quota(retry_after=7, retry_slack=-0.25), 10.0, 6.75),  # an HTTP date: the date itself
        (Quota(reset_in=7.25, reset_slack=0.001), 10.0, 7.251),  # epoch milliseconds
        (Quota(retry_after=7), 10.0, 8.0),  # delta seconds, rounded down: 1 s more
        (Quota(retry_after=0), 10.0, 1.0),
        (Quota(retry_after=30, reset_in=2.0), 10.0, 31.0),  # Retry-After stands over the reset
        (Quota(retry_after=1), 1.0, 2.0),  # a window configured shorter does not cut it
        (Quota(retry_after=0), 0.5, 0.5),  # but the margin for rounding is never more
        (Quota(remaining=0), 10.0, 10.0),  # nothing said: the whole window
        (None, 10.0, 10.0),
    ],
)
def test_the_wait_for_a_reset_is_what_the_upstream_says_and_its_rounding_hides(
    said: Quota | None, window: float, wait: float
) -> None:
    assert wait_for_reset(said, window) == pytest.approx(wait)


def found_window(start: float, limit: int = 20) -> WindowFinder:
    """A finder that saw our first hit of a window at `start`, announced to last 1 s."""
    finder = WindowFinder()
    said = Quota(limit=limit, remaining=limit - 1, window=1.0, policies=((limit, 1.0),))
    finder.hear(Answer(said, start, start + 0.005))
    return finder


def test_a_configured_window_does_not_cut_short_the_wait_a_refusal_asks_for() -> None:
    finder = WindowFinder([Rate(20, 1.0)])  # configured 20/second; the upstream says 10
    quota = UpstreamQuota(rates(20, 1.0), finder)
    refusal = Quota(limit=10, remaining=0, retry_after=1)  # its window is longer: 1 s left
    finder.hear(Answer(refusal, 0.0, 0.005, refused=True))
    assert quota.pause_after(refusal, 0.005) == 2.0  # not the 1 s configured


def test_none_remaining_it_waits_for_the_window_found_not_a_window_after_that_answer() -> None:
    finder = found_window(0.0)
    quota = UpstreamQuota(rates(20, 1.0), finder)
    probe = quota.spend()
    quota.answered(probe, Quota(limit=20, remaining=19), 0.005)
    tickets = [quota.spend() for _ in range(19)]
    for ticket in tickets:
        quota.answered(ticket, Quota(limit=20, remaining=0), 0.3)  # Laravel: no reset on a 200
    assert quota.blocked_for(0.3) == pytest.approx(0.705)  # until 0.005 + 1, not 1.3


def test_after_a_refusal_it_pauses_until_the_window_found_ends() -> None:
    finder = found_window(0.0)
    quota = UpstreamQuota(rates(20, 1.0), finder)
    refusal = Quota(limit=20, remaining=0, retry_after=1, retry_slack=0.0)  # an HTTP date
    assert quota.pause_after(refusal, 0.6) == pytest.approx(0.405)
    assert quota.pause_after(Quota(limit=20, remaining=0, retry_after=0), 0.2) == pytest.approx(
        0.805
    )


def test_a_refusal_that_says_nothing_pauses_one_interval_of_the_pace() -> None:
    quota = UpstreamQuota(Rates(pace=4.0))
    assert quota.pause_after(Quota(), 0.0) == 0.25
    assert quota.pause_after(None, 0.0) == 0.25
    assert (quota.limit, quota.window) == (4, 1.0)  # a pace reads as so many a second


def test_a_window_whose_length_is_a_guess_is_opened_by_a_probe_even_when_alone() -> None:
    finder = WindowFinder()
    quota = UpstreamQuota(rates(3, 1.0), finder)
    for remaining in (2, 1, 0):
        ticket = quota.spend()
        answer = Answer(Quota(limit=3, remaining=remaining), 0.0, 0.01)
        quota.answered(ticket, answer.quota, 0.01)
        finder.hear(answer)
    assert not finder.certain
    assert quota.blocked_for(5.0) == 0.0
    quota.spend()
    assert quota.blocked_for(5.0) is None  # one probe: the window may not be what it seems


def test_a_share_other_clients_keep_spending_is_left_to_them_until_half_time() -> None:
    quota = UpstreamQuota(rates(20, 1.0))
    now = 0.0
    for _ in range(2):  # two windows in which others spent 10 before our probe
        quota.blocked_for(now)
        quota.answered(quota.spend(), Quota(limit=20, remaining=9), now + 0.005)
        for ticket in [quota.spend() for _ in range(9)]:
            quota.answered(ticket, Quota(limit=20, remaining=0), now + 0.01)
        now += 1.02
    assert quota.blocked_for(now) == 0.0
    quota.answered(quota.spend(), Quota(limit=20, remaining=19), now + 0.005)  # first, this time
    assert quota.credit == 9  # 10 are theirs
    for ticket in [quota.spend() for _ in range(9)]:
        quota.answered(ticket, Quota(limit=20, remaining=10), now + 0.01)
    assert quota.blocked_for(now + 0.01) == pytest.approx(0.495)  # their share, until half-time
    assert quota.blocked_for(now + 0.505) == 0.0
    quota.spend()
    assert quota.blocked_for(now + 0.505) is None  # one asks whether they came meanwhile


def test_the_rates_can_change_and_show_their_tightest() -> None:
    quota = UpstreamQuota(rates(20, 1.0))
    quota.set_rates(Rates((Rate(20, 1.0), Rate(100, 60.0)), pace=0.5))
    assert (quota.limit, quota.window) == (100, 60.0)  # the tightest policy
    assert quota.rates.longest_window == 60.0
    quota.set_rates(Rates(pace=0.5))
    assert (quota.limit, quota.window) == (1, 2.0)  # no policy: the pace, one each 2 s


def searching(first_remaining: int) -> tuple[UpstreamQuota, WindowFinder]:
    """A quota whose probe got `first_remaining` of 20 back, the window's length unknown."""
    finder = WindowFinder()
    quota = UpstreamQuota(Rates((Rate(20, 1.0),)), finder)
    said = Quota(limit=20, remaining=first_remaining)
    quota.answered(quota.spend(), said, 0.005)
    finder.hear(Answer(said, 0.0, 0.005))
    return quota, finder


def test_while_the_window_is_searched_for_a_window_we_saw_begin_keeps_two_to_look() -> None:
    quota, finder = searching(19)  # our first hit
    assert finder.searching and finder.start_known
    assert quota.credit == 17
    tickets = []
    for _ in range(17):
        assert quota.blocked_for(0.01) == 0.0
        tickets.append(quota.spend())
    assert quota.blocked_for(0.01) is None  # answers due
    for left, ticket in zip(range(18, 1, -1), tickets, strict=True):
        quota.answered(ticket, Quota(limit=20, remaining=left), 0.02)
    assert quota.credit == 0  # two of the 20 kept
    assert quota.blocked_for(0.5) == pytest.approx(1.055 - 0.5)  # one look, just past 1 s


def test_a_window_another_client_began_is_not_burst_into_while_its_length_is_unknown() -> None:
    quota, finder = searching(12)
    assert not finder.start_known
    assert quota.credit == 0  # a burst here could follow the last window's by less than W
    assert quota.blocked_for(0.5) == pytest.approx(1.055 - 0.5)
    assert quota.blocked_for(1.06) == 0.0  # the look: one request
    quota.spend()
    assert quota.blocked_for(1.06) is None


def test_a_count_others_may_have_spent_since_is_asked_again_before_it_is_spent() -> None:
    quota = UpstreamQuota(rates(20, 1.0))
    quota.answered(quota.spend(), Quota(limit=20, remaining=14), 0.005)  # others spent 5
    assert quota.credit == 0  # never seen before: they may be in the middle of it
    assert quota.blocked_for(0.2) == pytest.approx(0.305)  # until half-time
    assert quota.blocked_for(0.505) == 0.0
    ask = quota.spend()
    assert quota.blocked_for(0.505) is None  # one asks; the rest waits for its answer
    quota.answered(ask, Quota(limit=20, remaining=4), 0.51)  # they spent 9 more meanwhile
    for _ in range(4):
        assert quota.blocked_for(0.51) == 0.0  # the 4 left are ours to spend
        quota.spend()
    assert quota.blocked_for(0.51) is None


def test_a_window_in_which_we_were_refused_leaves_others_a_margin_next_time() -> None:
    quota = UpstreamQuota(rates(20, 1.0))
    quota.answered(quota.spend(), Quota(limit=20, remaining=11), 0.005)  # others: 8 so far
    burst = [quota.spend() for _ in range(11)]
    for left, ticket in zip(range(10, 0, -1), burst, strict=False):
        quota.answered(ticket, Quota(limit=20, remaining=left), 0.01)
    quota.answered(burst[-1], Quota(limit=20, remaining=0, retry_after=1), 0.01)  # raced: 429
    quota.unsure()  # they got 8, and wanted more than that
    assert quota.blocked_for(2.1) == 0.0  # Retry-After 1, rounded down: 2 s
    quota.answered(quota.spend(), Quota(limit=20, remaining=19), 2.105)  # first, this time
    assert quota.credit == 19 - (8 + 2)  # their 8, and the margin a race showed


def test_a_count_in_which_the_upstream_named_another_limit_is_not_others_spending() -> None:
    # Laravel names whichever limit binds: 20 a second, then 60 per 10 s. The 60's window
    # began before we heard of it: the 40 it counted before are ours, not another client's.
    several = Rates((Rate(20, 1.0), Rate(60, 10.0)))
    quota = UpstreamQuota(several)
    now = 0.0
    quota.blocked_for(now)
    quota.answered(quota.spend(), Quota(limit=20, remaining=19), now + 0.005)
    tickets = [quota.spend() for _ in range(19)]
    for left, ticket in zip(range(18, 0, -1), tickets[:18], strict=True):
        quota.answered(ticket, Quota(limit=20, remaining=left), now + 0.01)
    quota.answered(tickets[18], Quota(limit=60, remaining=0), now + 0.01)  # 60 spent: binds
    now = 10.05
    assert quota.blocked_for(now) == 0.0
    quota.answered(quota.spend(), Quota(limit=20, remaining=19), now + 0.005)
    assert quota.credit == 19  # none kept for others
