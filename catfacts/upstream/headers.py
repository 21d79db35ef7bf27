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

Besides the one stricter reading, a `Quota` keeps every policy announced with its window (each
binds), and how each wait was rounded: a reader that finds the window from resets, or waits for
one, must know whether the true reset may come later than the number says (rounded down: delta
seconds, epoch seconds) or not (rounded up, or exact: IETF `t`, an HTTP date, epoch milliseconds).
"""

from __future__ import annotations

import email.utils
import functools
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import http_sf

# A reset this large is a time, not a delay: 1e9 s is 2001, 1e12 is 2001 in milliseconds.
EPOCH_SECONDS = 1e9
EPOCH_MILLISECONDS = 1e12
MILLISECOND = 0.001
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
    policies: tuple[tuple[int, float], ...] = ()  # every (limit, window) announced; each binds
    # How much later than `reset_in` (`retry_after`) the true reset may be: 1 when whole seconds
    # were rounded down (and the default: the safe reading), 0 when rounded up, the resolution of
    # a finer value (0.001 for milliseconds), below 0 for a date `retry_after` rounds up.
    reset_slack: float = 1.0
    retry_slack: float = 1.0

    @property
    def reset_span(self) -> tuple[float, float] | None:
        """(earliest, latest) seconds after the answer that the window may end, from `reset_in`."""
        return None if self.reset_in is None else _span(self.reset_in, self.reset_slack)

    @property
    def retry_span(self) -> tuple[float, float] | None:
        """(earliest, latest) seconds after the answer that `Retry-After` points to."""
        return None if self.retry_after is None else _span(self.retry_after, self.retry_slack)

    @property
    def says_nothing(self) -> bool:
        """No limit, count or wait at all: a proxy's bare 429, or an upstream without limits."""
        return self.limit is None and self.remaining is None and self.wait_span is None

    @property
    def wait_span(self) -> tuple[float, float] | None:
        """When the upstream says to come back: `Retry-After`, which always stands, or the reset."""
        return self.retry_span or self.reset_span

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now: float | None = None) -> Quota:
        """Read every dialect in `headers`; `now` is the wall clock, for dates and epochs."""
        wall = time.time() if now is None else now
        laravel = _x_ratelimit(headers, wall)
        # Every answer of a large call comes through here: most speak one dialect only.
        ietf = _ietf(headers) if _speaks_ietf(headers) else []
        stricter = _stricter([laravel, *ietf]) if ietf else laravel
        retry_after = _retry_after(headers.get("Retry-After"), wall)
        if retry_after is None:
            return stricter
        seconds, slack = retry_after
        return _quota({**vars(stricter), "retry_after": seconds, "retry_slack": slack})


def _span(seconds: float, slack: float) -> tuple[float, float]:
    """A wait known to whole seconds spans 1 s, ending `slack` after `seconds`; a finer one (a
    slack strictly between 0 and 1) spans its slack."""
    latest = seconds + slack
    earliest = seconds if 0 < slack < 1 else latest - 1
    return max(earliest, 0.0), max(latest, 0.0)


def _x_ratelimit(headers: Mapping[str, str], now: float) -> Quota:
    limit = headers.get("X-RateLimit-Limit")
    remaining = headers.get("X-RateLimit-Remaining")
    reset = _number(headers.get("X-RateLimit-Reset"))
    if limit is None and remaining is None and reset is None:
        return _SILENT
    reset_in, slack = (None, 1.0) if reset is None else _reset_in(reset, now)
    return _quota(
        {
            **_SILENT_FIELDS,
            "limit": _count(limit),
            "remaining": _count(remaining),
            "reset_in": reset_in,
            "reset_slack": slack,
        }
    )


def _speaks_ietf(headers: Mapping[str, str]) -> bool:
    """Whether any IETF field is there (a loop: `any` over a generator costs twice as much)."""
    for name in _IETF_FIELDS:  # noqa: SIM110
        if name in headers:
            return True
    return False


_SILENT = Quota()  # nothing said; immutable, so one is enough
_SILENT_FIELDS = dict(vars(_SILENT))
_NEW = object.__new__
_SET = object.__setattr__


def _quota(fields: dict[str, Any]) -> Quota:
    """The `Quota` of `fields` (all of them), as `Quota(**fields)` makes it, at a third of the cost.

    A frozen dataclass's `__init__` sets each of its eight fields through `object.__setattr__`,
    about a microsecond, the larger part of reading an answer: every answer of a large call pays
    it. Here the instance gets its attributes in one step; equality, hashing, `repr` and
    `dataclasses.replace` see the same object.
    """
    quota: Quota = _NEW(Quota)
    _SET(quota, "__dict__", fields)
    return quota


def _ietf(headers: Mapping[str, str]) -> list[Quota]:
    """One reading per named policy (draft 10), or the earlier drafts' separate fields."""
    policies = {name: params for name, params in _members(headers.get("RateLimit-Policy"))}
    states = {name: params for name, params in _members(headers.get("RateLimit"))}
    readings = [
        _ietf_reading(policies.get(name, {}), states.get(name, {}))
        for name in sorted({*policies, *states})
    ]
    reset = _number(headers.get("RateLimit-Reset"))
    earlier = Quota(
        limit=_count(headers.get("RateLimit-Limit")),
        remaining=_count(headers.get("RateLimit-Remaining")),
        reset_in=reset,
        reset_slack=1.0 if reset is None else _delta_slack(reset),  # rounding unknown: down
    )
    return [*readings, earlier]


def _ietf_reading(policy: dict[str, Any], state: dict[str, Any]) -> Quota:
    """One named policy of draft 10; `t` counts whole seconds rounded up: the reset is no later."""
    limit, window = _sf_count(policy.get("q")), _sf_seconds(policy.get("w"))
    reset = _sf_seconds(state.get("t"))
    return Quota(
        limit=limit,
        window=window,
        remaining=_sf_count(state.get("r")),
        reset_in=reset,
        policies=((limit, window),) if limit is not None and window else (),
        reset_slack=1.0 if reset is None else 0.0,
    )


@functools.lru_cache(maxsize=256)
def _members(value: str | None) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The (name, parameters) members of a structured-field list; nothing if malformed.

    Remembered (read them, never change them): parsing one costs 4 µs, and an upstream repeats
    itself: the same policies on every answer, and a few hundred states in a window.
    """
    if value is None or len(value) > MAX_HEADER:
        return ()
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="list")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError):
        return ()
    members: list[tuple[str, dict[str, Any]]] = []
    for member in parsed if isinstance(parsed, list) else []:
        if isinstance(member, tuple) and len(member) == 2 and isinstance(member[1], dict):
            name = member[0] if isinstance(member[0], str) else str(member[0])
            members.append((name, member[1]))
    return tuple(members)


def _stricter(readings: Iterable[Quota]) -> Quota:
    said = [reading for reading in readings if reading != _SILENT]
    limits = [reading.limit for reading in said if reading.limit is not None]
    windows = [reading.window for reading in said if reading.window is not None]
    counted = [reading for reading in said if reading.remaining is not None]
    # The reading with the fewest left is the one that binds; its reset is the one to wait for.
    binding = min(counted, key=lambda r: (r.remaining, -(r.reset_in or 0.0)), default=None)
    resets = [reading for reading in said if reading.reset_in is not None]
    timed = binding if binding is not None else max(resets, key=_reset_of, default=None)
    return Quota(
        limit=min(limits, default=None),
        remaining=None if binding is None else binding.remaining,
        window=max(windows, default=None),
        reset_in=None if timed is None else timed.reset_in,
        policies=tuple(policy for reading in said for policy in reading.policies),
        reset_slack=1.0 if timed is None or timed.reset_in is None else timed.reset_slack,
    )


def _reset_of(reading: Quota) -> float:
    return reading.reset_in or 0.0


def _retry_after(value: str | None, now: float) -> tuple[int, float] | None:
    """Whole seconds to wait, and the slack of that figure (see `Quota`).

    A delay in whole seconds is taken as rounded down; a date, rounded up by the upstream, is
    the latest moment meant, and the seconds until it are rounded up here: the slack below 0
    gives that moment back exactly.
    """
    seconds = _number(value)
    if seconds is not None and seconds.is_integer():
        return int(seconds), 1.0
    if seconds is None and value is not None and len(value) <= MAX_HEADER:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None  # an HTTP date is always GMT; one without a zone is no HTTP date
        seconds = max(when.timestamp() - now, 0.0)
    if seconds is None:
        return None
    return math.ceil(seconds), seconds - math.ceil(seconds)


def _reset_in(reset: float, now: float) -> tuple[float, float]:
    """Seconds until a reset, told apart by size, and the slack of its rounding."""
    if reset >= EPOCH_MILLISECONDS:
        return max(reset / 1000 - now, 0.0), MILLISECOND
    if reset >= EPOCH_SECONDS:
        return max(reset - now, 0.0), _delta_slack(reset)
    return reset, _delta_slack(reset)


def _delta_slack(seconds: float) -> float:
    """Whole seconds are taken as rounded down (the true time may be 1 s later, the safe side);
    a value with a fraction is exact to the millisecond."""
    return 1.0 if seconds.is_integer() else MILLISECOND


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
