"""The shared limiter: the slots live in Redis, so every worker and host spends one budget.

Each operation is one Lua script (`lua/*.lua`), atomic in Redis, and reads the clock with Redis's
`TIME`, so clock skew between hosts cannot break the limit. Slots are two sorted sets: those in
flight, scored by when their lease ends (a worker that dies mid-request holds one only until
then, and from then it counts as answered), and those answered, scored by when. The rates in
force live beside them: what one process learns from the upstream, every process uses, changed
by compare-and-set so that no change is lost or applied twice. Every key expires once its state
could no longer matter, so nothing grows without bound. A worker that finds no room is told how
long to sleep; a 429's pause is a key every worker sees.

Every key of one upstream's limiter shares the hash tag `{<upstream URL>}`, and the scripts touch
only the keys they are given, so in a Redis Cluster they all live in one slot, on one node, and
each script runs there whichever node the URL names (`catfacts.redis_connect` has the URL forms).
A failure is a prompt 503 that says what went wrong: a refused password, a cluster node named as
a server, an unreachable Redis are three different messages.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import (
    BEHIND,
    PACED,
    PAUSED,
    WINDOW,
    Limiter,
    Queued,
    Slot,
    StateLost,
    Survey,
    Wait,
)
from catfacts.rates import Rates
from catfacts.redis_connect import ERRORS, AsyncClient, verdict

STAY_MARGIN_MS = 1000  # a waiting client is forgotten this long after a window without a word
LEASE_MARGIN = 1.0  # seconds a slot in flight counts past the upstream timeout, then as answered
REDIS_TIMEOUT = 1.0  # seconds: a Redis that is down must be a prompt 503, never a hang
SCRIPTS: tuple[str, ...] = ("acquire", "release", "pause", "share", "withdraw", "view", "rejoin")
SCRIPTS += ("survey",)  # what the budget looks like, for estimates (`strategies/estimate.py`)
SCRIPTS += ("charge", "settle")  # all at once's requests (`strategies/overdraft.py`)
QUEUE_WORD = 2.0  # seconds a process's word about its queue lasts unless it says it again


class RedisUnavailable(ServiceUnavailable):
    """Redis failed the limiter: `lasting` when waiting will not mend it (a refused password, a
    cluster node named as a server), else it may answer again (down, unreachable, timed out)."""

    cause: str
    lasting: bool

    def __init__(self, message: str, cause: str, lasting: bool) -> None:
        super().__init__(message)
        self._set(cause=cause, lasting=lasting)


@dataclass(frozen=True)
class Heard:
    """What one heartbeat saw, in Redis's milliseconds: the sharers and when each was last
    heard, and every slot that counts (answered: when; in flight: when its lease ends)."""

    now: int
    sharers: dict[str, int]
    answered: list[tuple[str, int]]
    leases: list[tuple[str, int]]


def _script(name: str) -> str:
    """A Lua script from `lua/`, where each names its keys and arguments in a header comment."""
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")


class RedisLimiter(Limiter):
    """Slots in Redis, shared by every process that names the same Redis and upstream."""

    shared = True

    def __init__(self, rates: Rates, redis_url: str, upstream_url: str, lease: float) -> None:
        super().__init__(rates)
        self._lease_ms = round((lease + LEASE_MARGIN) * 1000)
        prefix = f"catfacts:{{{upstream_url}}}"  # the hash tag: one slot per upstream in a cluster
        names = ("log", "leases", "pause", "rates", "next", "seq", "waiting", "served")
        self._keys = [f"{prefix}:{name}" for name in names]
        self._seen, self._seen_at = 0, 0.0  # the last `seq` Redis gave us, and when
        self._version = ""  # of the shared rates this process last saw
        self._learned = False  # whether `rates` came from the upstream (then they are shared)
        self._me = uuid.uuid4().hex[:12]
        self._ids = (f"{self._me}:{n}" for n in itertools.count(1))
        self._named = False  # whether Redis may hold clients this process said it waits for
        # Short timeouts, one immediate retry (every script is safe to run twice). Connections
        # are made on first use, on the background loop.
        self._redis = AsyncClient(redis_url, REDIS_TIMEOUT)
        self._scripts = {name: self._redis.register_script(_script(name)) for name in SCRIPTS}
        self._sharers = f"{prefix}:sharers"  # the registry: who shares, for a fallback's share
        self._queues = f"{prefix}:queues"  # what each process has queued, for the estimates

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        # Past the keys' expiry our last `seq` means nothing: the slots legitimately expired too.
        recent = time.monotonic() - self._seen_at < self._ttl_ms / 2000
        args: list[str | int] = [self.rates.encode(), int(self._learned), self._lease_ms]
        args += [next(self._ids), self._seen if recent else 0, self._me]
        # Every wait is at most a window: a process that still waits renews its word in time.
        args += [self._longest_ms + STAY_MARGIN_MS, *dict.fromkeys(clients)]
        self._named = self._named or bool(clients)
        granted, value, reason, seq, version, text = await self._run("acquire", self._keys, args)
        self._seen, self._seen_at = int(seq), time.monotonic()
        self._heard_shared(_text(version), _text(text))
        reason = _text(reason)
        if granted:
            return Slot(_text(value), reason or None)
        if reason == "lost":
            raise StateLost("the shared limiter's slots were lost (Redis restarted or flushed)")
        return Wait(int(value) / 1000, _REASONS[reason])

    async def withdraw(self) -> None:
        """Others need not wait for this process's clients; if Redis is down, they expire."""
        if self._named:
            self._named = False
            with contextlib.suppress(ServiceUnavailable):
                await self._run("withdraw", [self._keys[6]], [self._me])

    async def release(self, slot: Slot) -> None:
        await self._run("release", self._keys[:2], [slot.id, 1, self._ttl_ms])

    async def cancel(self, slot: Slot) -> None:
        await self._run("release", self._keys[:2], [slot.id, 0, self._ttl_ms])

    async def pause(self, seconds: float) -> None:
        await self._run("pause", [self._keys[2]], [round(seconds * 1000)])

    async def charge(self, id: str, n: int, allowance: Rates, within: float) -> Wait | None:
        later = round(within * 1000)
        args: list[str | int] = [n, f"{id}:", later, self._ttl_ms + later]
        for rate in allowance.policies:
            args += [rate.limit, round(rate.window * 1000)]
        charged, wait = await self._run("charge", self._keys[:2], args)
        return None if charged else Wait(int(wait) / 1000, WINDOW)

    async def settle(self, id: str, n: int) -> None:
        await self._run("settle", self._keys[:1], [n, f"{id}:"])

    async def set_rates(self, rates: Rates) -> Rates:
        self.rates, self._learned = rates, True
        args: list[str | int] = [rates.encode(), self._version, self._ttl_ms]
        _, version, text = await self._run("share", [self._keys[3]], args)
        self._heard_shared(_text(version), _text(text))
        return self.rates

    async def survey(self, queued: Queued) -> Survey:
        """Each process's word on its queue lasts `QUEUE_WORD` s: a dead one is soon forgotten."""
        tight = self.rates.tightest
        word = json.dumps({client: list(pair) for client, pair in queued.items()}) if queued else ""
        keys = [*self._keys[:3], self._queues]
        args: list[str | int] = [self._me, round(QUEUE_WORD * 1000), word]
        args += [0, 0] if tight is None else [tight.limit, round(tight.window * 1000)]
        _, counted, flying, frees, paused, others = await self._run("survey", keys, args)
        return Survey(
            int(counted), int(flying), int(frees) / 1000, int(paused) / 1000, _merged(others)
        )

    async def close(self) -> None:
        await self._redis.aclose()

    # --- For the fallback (`degraded.py`): the registry, and coming back after an outage ----

    @property
    def me(self) -> str:
        return self._me

    @property
    def lease(self) -> float:
        """Seconds a slot in flight may count before Redis takes it as answered."""
        return self._lease_ms / 1000

    async def heartbeat(self, stale: float) -> Heard:
        """Say this process shares the slots (for `stale` seconds), and see who else does and
        which slots count now."""
        keys = [self._sharers, self._keys[0], self._keys[1]]
        now, sharers, answered, leases = await self._run(
            "view", keys, [self._me, round(stale * 1000), self._longest_ms]
        )
        return Heard(int(now), dict(_pairs(sharers)), _pairs(answered), _pairs(leases))

    async def rejoin(
        self, stale: float, answered: Sequence[float], flying: Sequence[tuple[str, float]]
    ) -> int:
        """Back after an outage: make Redis count this process's slots that still count (each
        answer `answered` seconds ago; each lease with seconds left), trust Redis's state again
        (an empty Redis is expected now, not a loss), and say this process is back. Returns
        Redis's time (ms)."""
        args: list[str | int] = [self._me, self._ttl_ms, round(stale * 1000), len(answered)]
        for n, ago in enumerate(answered):
            args += [f"{self._me}:back{n}:{uuid.uuid4().hex[:6]}", max(round(ago * 1000), 0)]
        for slot, left in flying:
            args += [slot, max(round(left * 1000), 1)]
        keys = [self._keys[0], self._keys[1], self._sharers]
        (now,) = await self._run("rejoin", keys, args)
        self._seen, self._version = 0, ""
        return int(now)

    def learned_offline(self, rates: Rates) -> None:
        """Rates learned while Redis was away: share them with the next acquire."""
        self.rates, self._learned = rates, True

    @property
    def _longest_ms(self) -> int:
        return max(round(self.rates.longest_window * 1000), 1000)

    @property
    def _ttl_ms(self) -> int:
        return self._lease_ms + 2 * self._longest_ms

    def _heard_shared(self, version: str, text: str) -> None:
        """Another process's rates, newer than those this one knows: use them from now on."""
        if version == self._version or not version:
            return
        self._version = version
        shared = Rates.decode(text)
        if shared != self.rates:
            self.rates = shared
            if self.on_shared is not None:
                self.on_shared(shared)

    async def _run(self, script: str, keys: list[str], args: Sequence[str | int]) -> list[Any]:
        try:
            result = await self._scripts[script](keys=keys, args=args)
        except ERRORS as error:
            why = verdict(error, self._redis.form, self._redis.timeout)
            raise RedisUnavailable(
                f"the shared rate limiter cannot use Redis: {why}", why.message, why.lasting
            ) from None
        return list(result) if isinstance(result, list) else []


_REASONS = {"window": WINDOW, "paused": PAUSED, "behind": BEHIND, "paced": PACED}


def _pairs(flat: Sequence[Any]) -> list[tuple[str, int]]:
    """A WITHSCORES answer: [member, score, ...] as (member, score in ms)."""
    return [(_text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat) - 1, 2)]


def _merged(flat: Sequence[Any]) -> dict[str, tuple[int, int]]:
    """The other processes' queues ([id, JSON {client: [calls, requests]}, ...]), per client."""
    merged: dict[str, tuple[int, int]] = {}
    for i in range(1, len(flat), 2):
        for client, (calls, requests) in json.loads(_text(flat[i])).items():
            had = merged.get(client, (0, 0))
            merged[client] = (had[0] + calls, had[1] + requests)
    return merged


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
