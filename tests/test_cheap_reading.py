"""Reading an answer cheaply reads it the same: a quota read late, a remembered parse, a counter
found once (issue 15: all at once at its old cost)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from catfacts.observe import metrics
from catfacts.upstream.client import Reply, parse_reply
from catfacts.upstream.headers import Quota

FACT = b'{"fact": "Cats purr.", "length": 10}'


def test_a_quota_read_late_is_read_as_of_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    answered = time.time()
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Reset": str(int(answered) + 30)}
    reply = parse_reply(200, headers, FACT)
    monkeypatch.setattr(time, "time", lambda: answered + 20)  # read 20 s after the answer
    assert reply.quota.reset_in is not None
    assert 28 <= reply.quota.reset_in <= 31
    assert reply.quota is reply.quota  # read once


def test_a_reply_read_late_equals_one_read_at_once() -> None:
    headers = CIMultiDictProxy(
        CIMultiDict({"X-RateLimit-Limit": "100", "x-ratelimit-remaining": "7"})
    )
    late = parse_reply(200, headers, FACT)
    now = Reply("Cats purr.", Quota(limit=100, remaining=7))
    assert late == now
    assert hash(late) == hash(now)
    assert repr(late) == repr(now) == f"Reply(fact='Cats purr.', quota={now.quota!r})"
    assert late != Reply("Cats purr.", Quota())


def test_a_quota_made_the_fast_way_is_a_quota_like_any_other() -> None:
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "Retry-After": "12"}
    read = Quota.from_headers(headers, now=1.7e9)
    made = Quota(limit=100, remaining=0, retry_after=12)
    assert read == made
    assert hash(read) == hash(made)
    assert repr(read) == repr(made)
    assert dataclasses.asdict(read) == dataclasses.asdict(made)
    assert dataclasses.replace(read, limit=5) == dataclasses.replace(made, limit=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.limit = 5  # type: ignore[misc]
    assert Quota.from_headers({}, now=1.7e9) == Quota()


def test_a_remembered_structured_field_reads_the_same_every_time() -> None:
    headers = {"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=42;t=17'}
    first = Quota.from_headers(headers, now=1.7e9)
    assert first == Quota(
        limit=100,
        remaining=42,
        window=60.0,
        reset_in=17.0,
        policies=((100, 60.0),),
        reset_slack=0.0,
    )
    for _ in range(3):
        assert Quota.from_headers(headers, now=1.7e9) == first
    fewer = {**headers, "RateLimit": '"default";r=3;t=17'}
    assert Quota.from_headers(fewer, now=1.7e9).remaining == 3


def test_counters_found_once_still_count_every_answer() -> None:
    metrics.start()

    def counted(name: str, labels: str) -> float:
        for line in metrics.exposition().decode().splitlines():
            if line.startswith(f"{name}_total{{{labels}}}"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    requests = 'status="429",strategy="cheap_reading"'
    refused = 'strategy="cheap_reading"'
    before = counted("catfacts_upstream_requests", requests)
    before_refused = counted("catfacts_upstream_rate_limited", refused)
    for _ in range(3):
        metrics.upstream_answered("cheap_reading", 429)
    metrics.upstream_answered("cheap_reading", "429")  # the same label, not a refusal counted twice
    assert counted("catfacts_upstream_requests", requests) == before + 4
    assert counted("catfacts_upstream_rate_limited", refused) == before_refused + 3
