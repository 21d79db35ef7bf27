"""The shared limiter's survey, for the estimates of when calls end (`strategies/estimate.py`):
one look at the budget in Redis that spends nothing, and the word each process leaves there on
what it has queued, so that every process sees the others' queues too.

Apart from `RedisLimiter` (`redis.py`): it shares its keys and scripts, but no state with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from catfacts.limiter import Queued, Survey, merged
from catfacts.limiter.scripts import Scripts, as_text
from catfacts.rates import Rate

QUEUE_WORD = 2.0  # seconds a process's word about its queue lasts unless it says it again


class SharedSurvey:
    """Surveys of the slots under `prefix`, saying what process `me` has queued."""

    def __init__(self, scripts: Scripts, prefix: str, me: str) -> None:
        self._scripts = scripts
        self._keys = [f"{prefix}:{name}" for name in ("log", "leases", "pause", "queues")]
        self._me = me

    async def survey(self, queued: Queued, tight: Rate | None) -> Survey:
        """Each process's word on its queue lasts `QUEUE_WORD` s: a dead one is soon forgotten.
        The slots are counted against `tight`, the tightest policy in force."""
        word = json.dumps({client: list(pair) for client, pair in queued.items()}) if queued else ""
        args: list[str | int] = [self._me, round(QUEUE_WORD * 1000), word]
        args += [0, 0] if tight is None else [tight.limit, round(tight.window * 1000)]
        _, counted, flying, frees, paused, others = await self._scripts.run(
            "survey", self._keys, args
        )
        freeing = tuple(int(ms) / 1000 for ms in frees)
        return Survey(int(counted), int(flying), freeing, int(paused) / 1000, _merged(others))


def _merged(flat: Sequence[Any]) -> dict[str, tuple[int, int]]:
    """The other processes' queues ([id, JSON {client: [calls, requests]}, ...]), per client."""
    return merged(json.loads(as_text(flat[i])) for i in range(1, len(flat), 2))
