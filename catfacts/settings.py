"""Configuration, read once from the environment into a frozen value.

Every setting has one environment variable; a bad value raises `ConfigError` naming the variable,
so start-up can stop with one clear line instead of failing later on the first request.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from catfacts import redis_connect
from catfacts.errors import ConfigError
from catfacts.rates import Rate, Rates

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# `CATFACTS_RATE_LIMIT=auto`: learn the rates from the upstream (`strategies.limited.learning`); the
# embedded upstream then has the real API's.
AUTO = "auto"
CAUTIOUS_RATE = Rate(60, 60.0, "60/minute")  # the limit as it reads when nothing at all is known
REAL_API_RATE = Rates.parse("100/minute")

# `CATFACTS_UNLIMITED_STRATEGIES`: all at once overdraws the shared budget by at most one window's
# limit (`strategies/overdraft.py`); or as it was, for benchmarks; or only the limited one served.
BOUNDED, OPEN, OFF = "bounded", "open", "off"
UNLIMITED = (BOUNDED, OPEN, OFF)


def _rates(raw: str) -> Rates | None:
    return None if raw.lower() == AUTO else Rates.parse(raw)


@dataclass(frozen=True)
class Settings:
    """What the service needs to run; defaults match the public Cat Facts API."""

    upstream_url: str | None = None
    rate: Rates | None = REAL_API_RATE  # None: auto, learned from the upstream
    upstream_timeout: float = 5.0
    max_facts: int = 1000
    host: str = "127.0.0.1"
    port: int = 5000
    log_level: str = "INFO"
    call_deadline: float | None = None
    redis_url: str | None = None
    emulator_dialect: str = "laravel"
    max_calls: int = 256
    workers: int = 1
    shutdown_grace: float = 3.0
    api_keys: frozenset[str] = frozenset()  # none: the fact endpoints are open
    api_keys_file: frozenset[str] = frozenset()
    inbound_limit: str | None = None  # per client, in the `limits` notation
    trusted_proxies: tuple[IPNetwork, ...] = ()  # none: the peer's address is the client's
    unlimited: str = BOUNDED  # how the strategies that take no slot are served (`UNLIMITED`)

    @property
    def keys(self) -> frozenset[str]:
        """Every valid API key, from the variable and the file together."""
        return self.api_keys | self.api_keys_file

    @classmethod
    def load(
        cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Read the environment, then apply `overrides` (tests), validating both the same way."""
        values: dict[str, Any] = {}
        for name, (variable, parse) in _FIELDS.items():
            raw = environ.get(variable)
            if raw is not None and raw.strip() != "":
                values[name] = _parse(variable, raw, parse)
        for name, value in (overrides or {}).items():
            if name not in _FIELDS:
                raise ConfigError(f"unknown setting {name!r}")
            variable, parse = _FIELDS[name]
            values[name] = _parse(variable, value, parse) if isinstance(value, str) else value
        return cls(**values)


def _parse(variable: str, raw: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw.strip())
    except ValueError as error:
        raise ConfigError(f"{variable}={raw!r}: {error}") from None


def _url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL like 'https://catfact.ninja'")
    return raw.rstrip("/")


def _redis_url(raw: str) -> str:
    redis_connect.parse(raw)  # ValueError: what is wrong with it (scheme, hosts, path, query)
    return raw


def positive_seconds(raw: str) -> float:
    """A duration from its text: finite and above zero, or ValueError."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


# gunicorn's graceful timeout is 15 s: the grace, the last answers and the exit must fit in it.
MAX_SHUTDOWN_GRACE = 10.0


def _grace(raw: str) -> float:
    value = positive_seconds(raw)
    if value > MAX_SHUTDOWN_GRACE:
        raise ValueError(f"must be at most {MAX_SHUTDOWN_GRACE:g} seconds")
    return value


_VALID_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{8,256}")


def _api_keys(raw: str) -> frozenset[str]:
    keys = frozenset(key.strip() for key in raw.split(",") if key.strip())
    if not all(_VALID_KEY.fullmatch(key) for key in keys):
        raise ValueError("each key must be 8 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -")
    return keys


def _api_keys_file(raw: str) -> frozenset[str]:
    """One key a line; blank lines and `#` comments are skipped."""
    try:
        with open(raw, encoding="utf-8") as file:
            lines = [line.split("#", 1)[0].strip() for line in file]
    except OSError as error:
        raise ValueError(f"cannot read it ({error.strerror})") from None
    keys = [line for line in lines if line]
    if not keys:
        raise ValueError("holds no key")
    return _api_keys(",".join(keys))


def _inbound_limit(raw: str) -> str:
    Rate.parse(raw)
    return raw


def _networks(raw: str) -> tuple[IPNetwork, ...]:
    """Addresses or networks, comma-separated: `127.0.0.1`, `10.0.0.0/8, ::1`."""
    try:
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        return tuple(ipaddress.ip_network(part, strict=False) for part in parts)
    except ValueError:
        raise ValueError("not addresses or networks like '127.0.0.1' or '10.0.0.0/8'") from None


def _unlimited(raw: str) -> str:
    if raw.lower() not in UNLIMITED:
        raise ValueError(f"must be one of {', '.join(UNLIMITED)}")
    return raw.lower()


# gunicorn keeps at most 1000 connections a worker; threads beyond ~900 leave none for keep-alive.
MAX_CALLS = 800


def _max_calls(raw: str) -> int:
    value = _positive_int(raw)
    if value > MAX_CALLS:
        raise ValueError(f"must be at most {MAX_CALLS} (each call holds a thread)")
    return value


def _port(raw: str) -> int:
    value = _positive_int(raw)
    if value > 65535:
        raise ValueError("must be a TCP port, 1 to 65535")
    return value


def _host(raw: str) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("not a host name or address")
    return raw


def _log_level(raw: str) -> str:
    level = raw.upper()
    if not isinstance(logging.getLevelNamesMapping().get(level), int):
        raise ValueError("not a log level (DEBUG, INFO, WARNING, ERROR)")
    return level


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "upstream_url": ("CATFACTS_UPSTREAM_URL", _url),
    "rate": ("CATFACTS_RATE_LIMIT", _rates),
    "upstream_timeout": ("CATFACTS_UPSTREAM_TIMEOUT", positive_seconds),
    "max_facts": ("CATFACTS_MAX_FACTS", _positive_int),
    "host": ("CATFACTS_HOST", _host),
    "port": ("CATFACTS_PORT", _port),
    "log_level": ("CATFACTS_LOG_LEVEL", _log_level),
    "call_deadline": ("CATFACTS_CALL_DEADLINE", positive_seconds),
    "redis_url": ("CATFACTS_REDIS_URL", _redis_url),
    # The embedded upstream knows its dialects: it checks this one (`serve.embedded.check`).
    "emulator_dialect": ("CATFACTS_EMULATOR_DIALECT", str),
    "max_calls": ("CATFACTS_MAX_CALLS", _max_calls),
    "workers": ("WEB_CONCURRENCY", _positive_int),
    "shutdown_grace": ("CATFACTS_SHUTDOWN_GRACE", _grace),
    "api_keys": ("CATFACTS_API_KEYS", _api_keys),
    "api_keys_file": ("CATFACTS_API_KEYS_FILE", _api_keys_file),
    "inbound_limit": ("CATFACTS_INBOUND_LIMIT", _inbound_limit),
    "trusted_proxies": ("CATFACTS_TRUSTED_PROXIES", _networks),
    "unlimited": ("CATFACTS_UNLIMITED_STRATEGIES", _unlimited),
}
