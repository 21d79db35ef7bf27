"""Fetch n facts one request after another, over one kept-alive connection.

The simplest correct strategy: it never exceeds the limit by much, because it is slow, and it
stops at the first refusal or failure, telling the caller how far it got.
"""

from __future__ import annotations

from catfacts import logs
from catfacts.errors import UpstreamError
from catfacts.upstream import SyncUpstream


def fetch_one_by_one(upstream: SyncUpstream, n: int) -> list[str]:
    """Return n facts, or raise the first upstream error with the count fetched before it."""
    level = logs.detail_level(n)
    facts: list[str] = []
    for index in range(1, n + 1):
        try:
            facts.append(upstream.fetch_fact(index, level).fact)
        except UpstreamError as error:
            raise error.progress(len(facts), n) from None
    return facts
