"""The emulator's settings, validated in one place for the command line and the admin API alike.

Every `EmulatorConfig` that exists is valid, so the code that uses one never re-checks it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from catfacts.emulator.dialects import Dialect
from catfacts.emulator.throttle import parse_rates
from catfacts.errors import ConfigError


class Fate(StrEnum):
    """What happens to one /fact request that passed the rate limiter."""

    OK = "ok"
    ERROR = "error"  # 500 {"message": "Server Error"}
    MALFORMED = "malformed"  # 200 with a body that is not JSON
    MISSING_FACT = "missing_fact"  # 200 JSON without a "fact" key
    SLOW = "slow"  # waits `slow_seconds` more, then answers normally
    DROP = "drop"  # counted as 444, then the connection closes without any answer


class Redirect(StrEnum):
    """How /fact sends its callers to /v2/fact, as a server whose route moved."""

    TEMPORARY = "temporary"  # 307 Temporary Redirect
    PERMANENT = "permanent"  # 308 Permanent Redirect

    @property
    def status(self) -> int:
        """The status of the redirect: both keep the method and the body, unlike 302 and 301."""
        return 307 if self is Redirect.TEMPORARY else 308


_FAULT_RATES = ("error_rate", "malformed_rate", "missing_fact_rate", "slow_rate", "drop_rate")
_DURATIONS = ("latency", "jitter", "slow_seconds")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator limits, delays and breaks its answers (`python -m catfacts.emulator -h`)."""

    rate_limit: str = "100/minute"  # one rate, or several separated by ";": "20/second;1000/hour"
    dialect: Dialect = Dialect.LARAVEL
    burst: int = 0  # the `proxy` dialect's nginx burst: requests beyond the rate it lets through
    latency: float = 0.0
    jitter: float = 0.0
    error_rate: float = 0.0
    malformed_rate: float = 0.0
    missing_fact_rate: float = 0.0
    slow_rate: float = 0.0
    drop_rate: float = 0.0
    slow_seconds: float = 30.0
    plan: tuple[Fate, ...] = ()
    seed: int | None = None
    tag_facts: bool = False
    redirect: Redirect | None = None  # if set, /fact redirects to /v2/fact, which serves facts

    def __post_init__(self) -> None:
        try:
            parse_rates(self.rate_limit)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.burst < 0:
            raise _expected("burst", "an integer >= 0")
        for name in _DURATIONS:
            if not 0.0 <= getattr(self, name) < math.inf:
                raise _expected(name, "a number of seconds >= 0")
        for name in _FAULT_RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise _expected(name, "a probability between 0 and 1")
        total = sum(getattr(self, name) for name in _FAULT_RATES)
        if total > 1.0:
            raise ConfigError(f"the fault rates add up to {total:g}; they must add up to 1 at most")

    def updated(self, changes: Mapping[str, object]) -> EmulatorConfig:
        """A copy with `changes` (JSON values, by field name) applied; ConfigError if any is bad."""
        unknown = sorted(set(changes) - _READERS.keys())
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        read = {name: _READERS[name](name, value) for name, value in changes.items()}
        return dataclasses.replace(self, **read)

    def to_json(self) -> dict[str, Any]:
        """The settings as the admin API shows them, ready for `json.dumps`."""
        return {**dataclasses.asdict(self), "plan": [str(fate) for fate in self.plan]}


def _expected(name: str, what: str) -> ConfigError:
    return ConfigError(f"{name} must be {what}")


def _read_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _expected(name, "a string")
    return value


def _read_number(name: str, value: object) -> float:
    # bool is an int in Python, but `true` is no number of seconds.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _expected(name, "a number")
    return float(value)


def _read_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _expected(name, "an integer >= 0")
    return value


def _read_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _expected(name, "true or false")
    return value


def _read_seed(name: str, value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _expected(name, "an integer or null")
    return value


_FATES = tuple(fate.value for fate in Fate)


def _read_plan(name: str, value: object) -> tuple[Fate, ...]:
    if not isinstance(value, list) or not all(step in _FATES for step in value):
        raise _expected(name, f"a list of fates, each one of {', '.join(_FATES)}")
    return tuple(Fate(step) for step in value)


def _read_dialect(name: str, value: object) -> Dialect:
    if not isinstance(value, str) or value not in tuple(Dialect):
        raise _expected(name, f"one of {', '.join(Dialect)}")
    return Dialect(value)


def _read_redirect(name: str, value: object) -> Redirect | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in tuple(Redirect):
        raise _expected(name, f"null or one of {', '.join(Redirect)}")
    return Redirect(value)


_READERS: dict[str, Callable[[str, object], Any]] = {
    "rate_limit": _read_text,
    "dialect": _read_dialect,
    "burst": _read_count,
    "redirect": _read_redirect,
    "tag_facts": _read_flag,
    "seed": _read_seed,
    "plan": _read_plan,
    **dict.fromkeys((*_DURATIONS, *_FAULT_RATES), _read_number),
}
