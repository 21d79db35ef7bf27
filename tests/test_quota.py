"""UpstreamQuota: credit from the upstream's headers, probes when unsure."""

from __future__ import annotations

from catfacts.dispatch.quota import UpstreamQuota
from catfacts.upstream.headers import Quota


def test_it_probes_with_one_request_first_then_spends_what_remains() -> None:
    quota = UpstreamQuota(limit=10, window=1.0)
    probe = quota.spend()
    assert quota.blocked_for(0.0) is None  # wait for the probe's answer
    quota.answered(probe, Quota(limit=10, remaining=6), 0.01)
    tickets = [quota.spend() for _ in range(6)]
    assert quota.blocked_for(0.02) is None
    quota.answered(tickets[0], Quota(limit=10, remaining=5), 0.03)
    assert quota.blocked_for(0.03) is None  # 5 remain, 5 in flight


def test_when_none_remain_it_waits_a_window_after_that_answer_then_probes() -> None:
    quota = UpstreamQuota(limit=3, window=1.0)
    quota.answered(quota.spend(), Quota(limit=3, remaining=1), 0.0)  # someone else spent one
    quota.answered(quota.spend(), Quota(limit=3, remaining=0), 0.1)
    assert quota.blocked_for(0.6) == 1.1 - 0.6
    assert quota.blocked_for(1.1) == 0.0
    quota.spend()
    assert quota.blocked_for(1.1) is None  # one probe at a time


def test_a_window_spent_by_us_alone_is_followed_by_a_full_one_without_a_probe() -> None:
    quota = UpstreamQuota(limit=3, window=1.0)
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
    quota = UpstreamQuota(limit=10, window=1.0)
    quota.answered(quota.spend(), Quota(remaining=9), 0.0)
    old = quota.spend()
    quota.unsure()
    quota.answered(old, Quota(remaining=8), 0.1)
    quota.spend()  # the probe
    assert quota.blocked_for(0.1) is None


def test_after_a_quiet_window_spent_by_us_alone_the_next_opens_in_full() -> None:
    quota = UpstreamQuota(limit=5, window=1.0)
    quota.answered(quota.spend(), Quota(limit=5, remaining=4), 0.0)
    assert quota.blocked_for(0.5) == 0.0  # 4 remain
    for _ in range(5):
        assert quota.blocked_for(1.0) == 0.0
        quota.spend()


def test_after_a_quiet_window_shared_with_others_it_probes() -> None:
    quota = UpstreamQuota(limit=5, window=1.0)
    quota.answered(quota.spend(), Quota(limit=5, remaining=2), 0.0)  # two hits were not ours
    assert quota.blocked_for(1.0) == 0.0
    quota.spend()
    assert quota.blocked_for(1.0) is None


def test_being_unsure_does_not_cut_short_a_wait_for_the_window() -> None:
    quota = UpstreamQuota(limit=3, window=1.0)
    quota.answered(quota.spend(), Quota(remaining=0), 0.0)
    quota.unsure()
    assert quota.blocked_for(0.5) == 0.5
    quota.unsure(not_before=2.0)
    assert quota.blocked_for(1.5) == 0.5
    assert quota.blocked_for(2.0) == 0.0
    quota.spend()
    assert quota.blocked_for(2.0) is None  # then one probe


def test_an_upstream_without_rate_headers_leaves_the_limiter_in_charge() -> None:
    quota = UpstreamQuota(limit=10, window=1.0)
    quota.answered(quota.spend(), Quota(), 0.0)
    for _ in range(10):
        assert quota.blocked_for(0.0) == 0.0
        quota.spend()
