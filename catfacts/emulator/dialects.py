"""The rate-limit headers each dialect writes, so every dialect is tested over real sockets.

- `laravel`: catfact.ninja's own. `X-RateLimit-Limit` and `-Remaining` on every answer; a 429
  adds `Retry-After` (seconds) and `X-RateLimit-Reset` (epoch seconds). No window is announced.
- `github`: `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Resource` and `-Reset` (epoch seconds)
  on every answer; a 429 carries no `Retry-After`, only the reset.
- `ietf`: draft 10's `RateLimit-Policy: "default";q=L;w=W` and `RateLimit: "default";r=R;t=T`; a
  429 adds `Retry-After` as an HTTP date. With several rates, every policy is listed, each named
  by its window: `"1s";q=20;w=1, "3600s";q=1000;w=3600`.
- `none`: no rate-limit header at all, and a bare 429.
- `proxy`: nginx's `limit_req` in front of the API instead of Laravel's throttle (see the module
  `limit_req`): no rate-limit header at all, and a 429 is nginx's own small HTML page.

`laravel` and `github` can only tell one limit: with several rates they tell the binding one.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections import Counter
from enum import StrEnum

from catfacts.emulator.throttle import Decision, Policy


class Dialect(StrEnum):
    LARAVEL = "laravel"
    GITHUB = "github"
    IETF = "ietf"
    NONE = "none"
    PROXY = "proxy"


def rate_headers(dialect: Dialect, decision: Decision) -> dict[str, str]:
    """The headers of one answer, a 200 or a 429, as `dialect` writes them."""
    refused = not decision.allowed
    if dialect is Dialect.LARAVEL:
        headers = {"X-RateLimit-Limit": str(decision.limit)}
        headers["X-RateLimit-Remaining"] = str(decision.remaining)
        if refused:
            headers["Retry-After"] = str(decision.retry_after)
            headers["X-RateLimit-Reset"] = str(decision.reset_at)
        return headers
    if dialect is Dialect.GITHUB:
        return {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Used": str(decision.limit - decision.remaining),
            "X-RateLimit-Resource": "core",
            # Whole epoch seconds, cut as an integer clock cuts them.
            "X-RateLimit-Reset": str(math.floor(time.time() + decision.resets_in)),
        }
    if dialect is Dialect.IETF:
        return _ietf_headers(decision)
    return {}


def _ietf_headers(decision: Decision) -> dict[str, str]:
    names = policy_names(decision.policies)
    headers = {
        "RateLimit-Policy": ", ".join(
            f'"{name}";q={policy.rate.limit};w={math.ceil(policy.rate.window)}'
            for name, policy in zip(names, decision.policies, strict=True)
        ),
        "RateLimit": ", ".join(
            f'"{name}";r={policy.remaining};t={_whole_seconds_up(policy.resets_in)}'
            for name, policy in zip(names, decision.policies, strict=True)
        ),
    }
    if not decision.allowed:
        retry_at = time.time() + decision.resets_in
        headers["Retry-After"] = email.utils.formatdate(math.ceil(retry_at), usegmt=True)
    return headers


def policy_names(policies: tuple[Policy, ...]) -> list[str]:
    """Each policy's name: its window ("1s", "3600s"), or "default" when it is the only one.

    A single policy keeps the name it had before there could be several.

    Two rates with the same window would share a name, and a reader keyed by name would keep only
    one of them: the second and later ones get "-2", "-3" and so on.
    """
    if len(policies) == 1:
        return ["default"]
    seen: Counter[str] = Counter()
    names = []
    for policy in policies:
        name = f"{math.ceil(policy.rate.window)}s"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


def _whole_seconds_up(seconds: float) -> int:
    """Seconds rounded up, but not past float noise: a fresh window's `now + W - now` may read
    60.000000000000114, which is 60, not 61."""
    return math.ceil(round(seconds, 6))
