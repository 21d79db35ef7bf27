"""The rate-limit headers each dialect writes, so every dialect is tested over real sockets.

- `laravel`: catfact.ninja's own. `X-RateLimit-Limit` and `-Remaining` on every answer; a 429
  adds `Retry-After` (seconds) and `X-RateLimit-Reset` (epoch seconds). No window is announced.
- `github`: `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Resource` and `-Reset` (epoch seconds)
  on every answer; a 429 carries no `Retry-After`, only the reset.
- `ietf`: draft 10's `RateLimit-Policy: "default";q=L;w=W` and `RateLimit: "default";r=R;t=T`; a
  429 adds `Retry-After` as an HTTP date.
- `none`: no rate-limit header at all, and a bare 429.
"""

from __future__ import annotations

import email.utils
import math
import time
from enum import StrEnum

from catfacts.emulator.throttle import Decision


class Dialect(StrEnum):
    LARAVEL = "laravel"
    GITHUB = "github"
    IETF = "ietf"
    NONE = "none"


def rate_headers(dialect: Dialect, decision: Decision, window: float) -> dict[str, str]:
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
        headers = {
            "RateLimit-Policy": f'"default";q={decision.limit};w={math.ceil(window)}',
            "RateLimit": f'"default";r={decision.remaining};t={math.ceil(decision.resets_in)}',
        }
        if refused:
            retry_at = time.time() + decision.resets_in
            headers["Retry-After"] = email.utils.formatdate(math.ceil(retry_at), usegmt=True)
        return headers
    return {}
