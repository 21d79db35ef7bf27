"""The registry of the processes that share one Redis's slots, for the fallback (`degraded.py`):
the heartbeat that says this process shares them and reads which slots count (its local share
is cut from that, should Redis go), and the rejoin that writes its own slots back after an
outage.

Apart from `RedisLimiter` (`redis.py`), which composes it: it shares its keys and scripts, and
the limiter alone decides what the rejoin means for its own state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catfacts.limiter.scripts import Scripts, as_text


@dataclass(frozen=True)
class Heard:
    """What one heartbeat saw, in Redis's milliseconds: the sharers and when each was last
    heard, and every slot that counts (answered: when; in flight: when its lease ends)."""

    now: int
    sharers: dict[str, int]
    answered: list[tuple[str, int]]
    leases: list[tuple[str, int]]


class Registry:
    """Process `me` among the sharers of the slots under `prefix`."""

    def __init__(self, scripts: Scripts, prefix: str, me: str) -> None:
        self._scripts = scripts
        self._sharers = f"{prefix}:sharers"  # who shares: process id -> when last heard (ms)
        self._slots = [f"{prefix}:log", f"{prefix}:leases"]  # answered, and in flight
        self._me = me

    async def heartbeat(self, stale: float, longest_ms: int) -> Heard:
        """Say this process shares the slots (for `stale` seconds), and see who else does and
        which slots count now (answers within `longest_ms`)."""
        keys = [self._sharers, *self._slots]
        now, sharers, answered, leases = await self._scripts.run(
            "view", keys, [self._me, round(stale * 1000), longest_ms]
        )
        return Heard(int(now), dict(_pairs(sharers)), _pairs(answered), _pairs(leases))

    async def rejoin(
        self,
        stale: float,
        ttl_ms: int,
        answered: Sequence[float],
        flying: Sequence[tuple[str, float]],
    ) -> int:
        """Make Redis count this process's slots that still count (each answer `answered`
        seconds ago; each lease with seconds left), and say this process is back. Returns
        Redis's time (ms)."""
        args: list[str | int] = [self._me, ttl_ms, round(stale * 1000), len(answered)]
        for n, ago in enumerate(answered):
            args += [f"{self._me}:back{n}:{uuid.uuid4().hex[:6]}", max(round(ago * 1000), 0)]
        for slot, left in flying:
            args += [slot, max(round(left * 1000), 1)]
        (now,) = await self._scripts.run("rejoin", [*self._slots, self._sharers], args)
        return int(now)


def _pairs(flat: Sequence[Any]) -> list[tuple[str, int]]:
    """A WITHSCORES answer: [member, score, ...] as (member, score in ms)."""
    return [(as_text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat) - 1, 2)]
