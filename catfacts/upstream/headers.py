"""Every rate-limit dialect an upstream may speak, read into one `Quota`.

- `X-RateLimit-Limit`, `-Remaining` and `-Reset` (Laravel, GitHub and many more). The reset is
  told apart by its size: delta seconds, epoch seconds (GitHub) or epoch milliseconds.
- The IETF's structured fields (draft-ietf-httpapi-ratelimit-headers): draft 10's
  `RateLimit-Policy: "default";q=100;w=60` and `RateLimit: "default";r=42;t=17`, with several
  policies; the earlier drafts' `RateLimit-Limit`, `-Remaining` and `-Reset`.
- `Retry-After`, in seconds or as an HTTP date.

Where they disagree the stricter wins: the fewest remaining, with that reading's reset; the lowest
limit; the longest window. `Retry-After` always stands. A malformed value is ignored, never fatal:
it is the upstream's word, and a typo there must not take the service down.
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import http_sf

# A reset this large is a time, not a delay: 1e9 s is 2001, 1e12 is 2001 in milliseconds.
EPOCH_SECONDS = 1e9
EPOCH_MILLISECONDS = 1e12
MAX_HEADER = 4096
_IETF_FIELDS = (
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)  # longer values are not parsed: no upstream needs them, an attacker might


@dataclass(frozen=True)
class Quota:
    """What the upstream said about its rate limit in one answer's headers."""

    limit: int | None = None  # requests allowed per window
    remaining: int | None = None  # requests left in the current window
    window: float | None = None  # the window's length in seconds, when announced
    reset_in: float | None = None  # seconds until the current window ends
    retry_after: int | None = None  # whole seconds the upstream asks us to wait

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now: float | None = None) -> Quota:
        """Read every dialect in `headers`; `now` is the wall clock, for dates and epochs."""
        wall = time.time() if now is None else now
        laravel = _x_ratelimit(headers, wall)
        # Every answer of a large call comes through here: most speak one dialect only.
        ietf = _ietf(headers) if any(name in headers for name in _IETF_FIELDS) else []
        stricter = _stricter([laravel, *ietf]) if ietf else laravel
        retry_after = headers.get("Retry-After")
        if retry_after is None:
            return stricter
        return dataclasses.replace(stricter, retry_after=_retry_after(retry_after, wall))


def _x_ratelimit(headers: Mapping[str, str], now: float) -> Quota:
    reset = _number(headers.get("X-RateLimit-Reset"))
    return Quota(
        limit=_count(headers.get("X-RateLimit-Limit")),
        remaining=_count(headers.get("X-RateLimit-Remaining")),
        reset_in=None if reset is None else _reset_in(reset, now),
    )


def _ietf(headers: Mapping[str, str]) -> list[Quota]:
    """One reading per named policy (draft 10), or the earlier drafts' separate fields."""
    policies = {name: params for name, params in _members(headers.get("RateLimit-Policy"))}
    states = {name: params for name, params in _members(headers.get("RateLimit"))}
    readings = [
        Quota(
            limit=_sf_count(policies.get(name, {}).get("q")),
            window=_sf_seconds(policies.get(name, {}).get("w")),
            remaining=_sf_count(states.get(name, {}).get("r")),
            reset_in=_sf_seconds(states.get(name, {}).get("t")),
        )
        for name in {*policies, *states}
    ]
    earlier = Quota(
        limit=_count(headers.get("RateLimit-Limit")),
        remaining=_count(headers.get("RateLimit-Remaining")),
        reset_in=_number(headers.get("RateLimit-Reset")),
    )
    return [*readings, earlier]


def _members(value: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The (name, parameters) members of a structured-field list; nothing if malformed."""
    if value is None or len(value) > MAX_HEADER:
        return []
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="list")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError):
        return []
    members: list[tuple[str, dict[str, Any]]] = []
    for member in parsed if isinstance(parsed, list) else []:
        if isinstance(member, tuple) and len(member) == 2 and isinstance(member[1], dict):
            name = member[0] if isinstance(member[0], str) else str(member[0])
            members.append((name, member[1]))
    return members


def _stricter(readings: Iterable[Quota]) -> Quota:
    said = [reading for reading in readings if reading != Quota()]
    limits = [reading.limit for reading in said if reading.limit is not None]
    windows = [reading.window for reading in said if reading.window is not None]
    counted = [reading for reading in said if reading.remaining is not None]
    # The reading with the fewest left is the one that binds; its reset is the one to wait for.
    binding = min(counted, key=lambda r: (r.remaining, -(r.reset_in or 0.0)), default=None)
    resets = [reading.reset_in for reading in said if reading.reset_in is not None]
    return Quota(
        limit=min(limits, default=None),
        remaining=None if binding is None else binding.remaining,
        window=max(windows, default=None),
        reset_in=binding.reset_in if binding is not None else max(resets, default=None),
    )


def _retry_after(value: str | None, now: float) -> int | None:
    """Whole seconds to wait: a delay as it is, a date as the time left until it, rounded up."""
    seconds = _number(value)
    if seconds is None and value is not None and len(value) <= MAX_HEADER:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None  # an HTTP date is always GMT; one without a zone is no HTTP date
        seconds = max(when.timestamp() - now, 0.0)
    return None if seconds is None else math.ceil(seconds)


def _reset_in(reset: float, now: float) -> float:
    if reset >= EPOCH_MILLISECONDS:
        reset = reset / 1000 - now
    elif reset >= EPOCH_SECONDS:
        reset -= now
    return max(reset, 0.0)


def _number(value: str | None) -> float | None:
    """A finite number; below zero means zero, and anything else means nothing."""
    if value is None or len(value) > 64:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return max(number, 0.0) if math.isfinite(number) else None


def _count(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _sf_count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value, 0)


def _sf_seconds(value: object) -> float | None:
    count = _sf_count(value)
    return None if count is None else float(count)
