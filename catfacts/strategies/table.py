"""The three strategies as every caller names them: the one table of paths, labels and lines.

The views route by it, the page and OpenAPI describe by it, access knows the fact endpoints by it,
and the command line and the bench call by it: a strategy is named here once, and read everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a fact endpoint answers: a JSON array, or (`Accept: application/x-ndjson`) a line a fact.
JSON = "application/json"
NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Info:
    """One strategy's row of the table."""

    name: str  # in timelines, metrics' labels, `catfacts fetch --strategy`, the page's lanes
    path: str  # the endpoint: GET `path/<n>`
    label: str  # for people, on the page
    description: str  # what a caller gets, in one line
    takes_deadline: bool = False  # heeds `?deadline=`: refused at once if it cannot finish in time


ONE_BY_ONE = Info(
    "one_by_one",
    "/cat",
    "One by one",
    "n facts, one request after another; it stops at the first refusal or failure",
)
ALL_AT_ONCE = Info(
    "all_at_once",
    "/cat_async",
    "All at once",
    "n requests at once; refused ones are dropped, so fewer facts may come back",
)
LIMITED = Info(
    "limited",
    "/cat_async_limited",
    "Limited",
    "exactly n facts, as fast as the upstream's limit allows and never faster",
    takes_deadline=True,
)

# In the order people meet them: the slow and correct, the fast and lossy, the one that is both.
STRATEGIES = {info.name: info for info in (ONE_BY_ONE, ALL_AT_ONCE, LIMITED)}
