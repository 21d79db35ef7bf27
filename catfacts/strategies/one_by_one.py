"""Fetch n facts one request after another, over one kept-alive connection.

The simplest correct strategy: it never exceeds the limit by much, because it is slow, and it
stops at the first refusal or failure, telling the caller how far it got.
"""

from __future__ import annotations

from collections.abc import Callable

from catfacts import logs
from catfacts.errors import CatFactsError, UpstreamError
from catfacts.upstream.client import SyncUpstream


def fetch_one_by_one(
    upstream: SyncUpstream,
    n: int,
    interrupted: Callable[[], CatFactsError | None] = lambda: None,
) -> list[str]:
    """Return n facts, or raise the first upstream error with the count fetched before it.

    `interrupted` is asked before each request (has the caller hung up, is the service stopping?):
    an error it returns ends the call there.
    """
    level = logs.detail_level(n)
    facts: list[str] = []
    for index in range(1, n + 1):
        if (reason := interrupted()) is not None:
            raise reason.progress(len(facts), n)
        try:
            facts.append(upstream.fetch_fact(index, level).fact)
        except UpstreamError as error:
            raise error.progress(len(facts), n) from None
    return facts
