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

Beside it, each composed by `RedisLimiter`: `scripts.py` runs the scripts and says what a failure
means; `survey.py` is the look for the estimates; `registry.py` the sharers' registry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import time
import uuid
from collections.abc import Sequence

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
from catfacts.limiter.registry import Heard, Registry
from catfacts.limiter.scripts import SCRIPTS, Scripts, as_text
from catfacts.limiter.survey import SharedSurvey
from catfacts.rates import Rates

# SCRIPTS too: the scripts' names, by which bench/hosts.py counts them
__all__ = ["CONFIRM_AFTER", "LEASE_MARGIN", "SCRIPTS", "RedisLimiter"]

log = logging.getLogger(__name__)

STAY_MARGIN_MS = 1000  # a waiting client is forgotten this long after a window without a word
LEASE_MARGIN = 1.0  # seconds a slot in flight counts past the upstream timeout, then as answered
# A request sent within LEASE_MARGIN of its grant reaches the upstream before its lease ends (the
# limiter's one assumption). Sent later than half that (the process was paused in between), it
# first asks Redis whether the slot is still its own (`confirm`); sooner, it costs no call.
CONFIRM_AFTER = LEASE_MARGIN / 2


class RedisLimiter(Limiter):
    """Slots in Redis, shared by every process that names the same Redis and upstream."""

    shared = True

    def __init__(self, rates: Rates, redis_url: str, upstream_url: str, lease: float) -> None:
        super().__init__(rates)
        self._lease_ms = round((lease + LEASE_MARGIN) * 1000)
        prefix = f"catfacts:{{{upstream_url}}}"  # the hash tag: one slot per upstream in a cluster
        names = ("log", "leases", "pause", "rates", "next", "seq", "waiting", "served", "turns")
        self._keys = [f"{prefix}:{name}" for name in names]
        self._seen, self._seen_at = 0, 0.0  # the last `seq` Redis gave us, and when
        self._version = ""  # of the shared rates this process last saw
        self._learned = False  # whether `rates` came from the upstream (then they are shared)
        self._me = uuid.uuid4().hex[:12]
        self._ids = (f"{self._me}:{n}" for n in itertools.count(1))
        self._named = False  # whether Redis may hold clients this process said it waits for
        self._scripts = Scripts(redis_url)  # connected on first use, on the background loop
        self._registry = Registry(self._scripts, prefix, self._me)  # for a fallback's share
        self._survey = SharedSurvey(self._scripts, prefix, self._me)  # for the estimates

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        asked = time.monotonic()  # before Redis grants: a pause after counts against the lease
        # Past the keys' expiry our last `seq` means nothing: the slots legitimately expired too.
        recent = time.monotonic() - self._seen_at < self._ttl_ms / 2000
        args: list[str | int] = [self.rates.encode(), int(self._learned), self._lease_ms]
        args += [next(self._ids), self._seen if recent else 0, self._me]
        # Every wait is at most a window: a process that still waits renews its word in time.
        args += [self._longest_ms + STAY_MARGIN_MS, *dict.fromkeys(clients)]
        self._named = self._named or bool(clients)
        granted, value, reason, seq, version, text = await self._scripts.run(
            "acquire", self._keys, args
        )
        self._seen, self._seen_at = int(seq), time.monotonic()
        self._heard_shared(as_text(version), as_text(text))
        reason = as_text(reason)
        if granted:
            return Slot(as_text(value), reason or None, asked)
        if reason == "lost":
            raise StateLost("the shared limiter's slots were lost (Redis restarted or flushed)")
        return Wait(int(value) / 1000, _REASONS[reason])

    async def withdraw(self) -> None:
        """Others need not wait for this process's clients; if Redis is down, they expire."""
        if self._named:
            self._named = False
            with contextlib.suppress(ServiceUnavailable):
                await self._scripts.run("withdraw", [self._keys[6], self._keys[8]], [self._me])

    async def confirm(self, slot: Slot) -> Slot | None:
        """Free unless the slot was asked for more than CONFIRM_AFTER ago; then one script
        (`confirm.lua`): still ours, with its lease renewed from now, or dropped."""
        now = time.monotonic()
        if now - slot.taken < CONFIRM_AFTER:
            return slot
        args: list[str | int] = [slot.id, self._lease_ms, self._ttl_ms]
        (mine,) = await self._scripts.run("confirm", self._keys[:2], args)
        return dataclasses.replace(slot, taken=now) if int(mine) else _lost(slot, now)

    async def release(self, slot: Slot) -> None:
        await self._scripts.run("release", self._keys[:2], [slot.id, 1, self._ttl_ms])

    async def cancel(self, slot: Slot) -> None:
        await self._scripts.run("release", self._keys[:2], [slot.id, 0, self._ttl_ms])

    async def pause(self, seconds: float) -> None:
        await self._scripts.run("pause", [self._keys[2]], [round(seconds * 1000)])

    async def charge(self, id: str, n: int, allowance: Rates, within: float) -> Wait | None:
        later = round(within * 1000)
        args: list[str | int] = [n, f"{id}:", later, self._ttl_ms + later]
        for rate in allowance.policies:
            args += [rate.limit, round(rate.window * 1000)]
        charged, wait = await self._scripts.run("charge", self._keys[:2], args)
        return None if charged else Wait(int(wait) / 1000, WINDOW)

    async def settle(self, id: str, n: int) -> None:
        await self._scripts.run("settle", self._keys[:1], [n, f"{id}:"])

    async def set_rates(self, rates: Rates) -> Rates:
        self.rates, self._learned = rates, True
        args: list[str | int] = [rates.encode(), self._version, self._ttl_ms]
        _, version, text = await self._scripts.run("share", [self._keys[3]], args)
        self._heard_shared(as_text(version), as_text(text))
        return self.rates

    async def survey(self, queued: Queued) -> Survey:
        return await self._survey.survey(queued, self.rates.tightest)

    async def close(self) -> None:
        await self._scripts.close()

    # --- For the fallback (`degraded.py`): the registry, and coming back after an outage ----

    @property
    def me(self) -> str:
        return self._me

    @property
    def lease(self) -> float:
        """Seconds a slot in flight may count before Redis takes it as answered."""
        return self._lease_ms / 1000

    async def heartbeat(self, stale: float) -> Heard:
        """Say this process shares the slots, and see who else does and which slots count."""
        return await self._registry.heartbeat(stale, self._longest_ms)

    async def rejoin(
        self, stale: float, answered: Sequence[float], flying: Sequence[tuple[str, float]]
    ) -> int:
        """Back after an outage (`Registry.rejoin`): trust Redis's state again (an empty Redis
        is expected now, not a loss). Returns Redis's time (ms)."""
        now = await self._registry.rejoin(stale, self._ttl_ms, answered, flying)
        self._seen, self._version = 0, ""
        return now

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


_REASONS = {"window": WINDOW, "paused": PAUSED, "behind": BEHIND, "paced": PACED}


def _lost(slot: Slot, now: float) -> Slot | None:
    """No slot: the process was paused past its lease (`confirm`); said in the log."""
    log.warning(
        "a slot was lost: this process was paused %.1f s, past its lease; taking a new one",
        now - slot.taken,
    )
    return None
