"""Reading the upstream's answers: a fact, or the error that explains its absence."""

from __future__ import annotations

import asyncio

import pytest

from catfacts.emulator.process import EmulatorProcess
from catfacts.errors import UpstreamBadResponse, UpstreamRateLimited, UpstreamTimeout
from catfacts.upstream.client import AsyncUpstream, parse_reply
from catfacts.upstream.headers import Quota

HEADERS = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "7"}


def test_a_fact_comes_with_the_quota_headers() -> None:
    reply = parse_reply(200, HEADERS, b'{"fact": "Cats purr.", "length": 10}')
    assert reply.fact == "Cats purr."
    assert reply.quota == Quota(limit=100, remaining=7)


def test_a_429_carries_retry_after_and_the_quota() -> None:
    headers = {**HEADERS, "X-RateLimit-Remaining": "0", "Retry-After": "12"}
    with pytest.raises(UpstreamRateLimited) as refused:
        parse_reply(429, headers, b'{"message": "Too Many Attempts."}')
    assert refused.value.retry_after == 12
    assert refused.value.quota == Quota(limit=100, remaining=0, retry_after=12)


def test_negative_counts_and_waits_mean_zero() -> None:
    headers = {"X-RateLimit-Limit": "-1", "X-RateLimit-Remaining": "-3", "Retry-After": "-5"}
    with pytest.raises(UpstreamRateLimited) as refused:
        parse_reply(429, headers, b"")
    assert refused.value.quota == Quota(limit=0, remaining=0, retry_after=0)


def test_headers_that_are_not_numbers_are_ignored() -> None:
    with pytest.raises(UpstreamRateLimited) as refused:
        parse_reply(429, {"Retry-After": "soon", "X-RateLimit-Limit": "lots"}, b"")
    assert refused.value.retry_after is None
    assert refused.value.quota == Quota()
    assert "429" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [b"<html>oops", b'{"length": 3}', b'{"fact": 42}', b"[]", b"null", b"[" * 100_000],
)
def test_a_200_without_a_fact_string_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse, match="without a fact"):
        parse_reply(200, {}, body)


@pytest.mark.parametrize("status", [500, 502, 404, 301])
def test_any_other_status_is_a_bad_response(status: int) -> None:
    with pytest.raises(UpstreamBadResponse, match=str(status)):
        parse_reply(status, {}, b"")


def test_a_request_the_upstream_counted_then_dropped_is_not_sent_again(
    emulator: EmulatorProcess,
) -> None:
    emulator.control.configure(plan=["ok", "drop", "ok"])

    async def scenario() -> None:
        upstream = AsyncUpstream(emulator.url, timeout=2.0)
        try:
            await upstream.fetch_fact(1)  # opens the kept-alive connection the drop closes
            with pytest.raises(UpstreamTimeout, match="cannot be reached"):
                await upstream.fetch_fact(2)
        finally:
            await upstream.close()

    asyncio.run(scenario())
    assert [status for _, status in emulator.control.arrivals()] == [200, 444]
