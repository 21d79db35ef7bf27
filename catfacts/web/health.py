"""Is this worker ready to serve? The checks behind `/readyz`, each cheap and bounded.

The upstream is checked with a TCP connection, not a request: a readiness probe every few seconds
must not spend the upstream's quota. Redis must answer as the limiter uses it: a PING, from neither
a cluster's node named as a server nor a replica (`redis_connect.check`). The background loop must
answer, and the dispatcher's pump must be alive (or not yet started: it starts on demand).

Redis away for a while (down, unreachable, timed out) is "degraded", not "not ready", once the
limiter knows its local share (`limiter/degraded.py`): limited calls are still served, within
the limit, and taking every worker out of rotation because Redis went would make the service
dead, not degraded. A lasting misconfiguration (a refused password) is "not ready".
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from catfacts import redis_connect
from catfacts.errors import CatFactsError
from catfacts.limiter.degraded import Fallback
from catfacts.services import Services

CHECK_TIMEOUT = 2.0  # seconds per check at most: a probe must answer before its own time-out


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""
    degraded: bool = False  # ok, on a fallback: the reason says which and why


def readiness(services: Services) -> list[Check]:
    checks = [_upstream(services)]
    if services.settings.redis_url is not None:
        checks.append(_redis(services, services.settings.redis_url))
    checks.append(_pump(services))
    return checks


def _timeout(services: Services) -> float:
    return min(services.settings.upstream_timeout, CHECK_TIMEOUT)


def _upstream(services: Services) -> Check:
    parts = urlsplit(services.upstream_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), _timeout(services)):
            return Check("upstream", True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return Check("upstream", False, f"the upstream cannot be reached ({reason})")


def _redis(services: Services, url: str) -> Check:
    limiter = services.limiter
    if isinstance(limiter, Fallback):
        # The heartbeat registers this worker as a sharer even before its first call.
        services.loop.run(limiter.probe(), CHECK_TIMEOUT)
        if limiter.degraded is not None:
            return Check("redis", True, limiter.degraded, degraded=True)
    verdict = redis_connect.check(url, CHECK_TIMEOUT)
    if verdict is None:
        return Check("redis", True)
    if isinstance(limiter, Fallback) and limiter.can_degrade and not verdict.lasting:
        reason = f"degraded ({verdict.message}); limited calls run on a local share of the limit"
        return Check("redis", True, reason, degraded=True)
    return Check("redis", False, verdict.message)


def _pump(services: Services) -> Check:
    try:
        services.loop.run(asyncio.sleep(0), CHECK_TIMEOUT)
    except CatFactsError as error:
        return Check("dispatcher", False, error.message)
    if not services.dispatcher.pump_alive:
        return Check("dispatcher", False, "the dispatcher's pump has stopped")
    return Check("dispatcher", True)
