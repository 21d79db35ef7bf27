"""The shared limiter: the slots live in Redis, so every worker and host spends one budget.

Each operation is one Lua script, atomic in Redis, and reads the clock with Redis's `TIME`, so
clock skew between hosts cannot break the limit. The slots are a sorted set: member = slot id,
score = when it is free (a released slot) or when its lease ends (a slot in flight: a worker that
dies mid-request loses its slot only until then). Every key expires once its state could no
longer matter, so nothing grows without bound. A worker that finds every slot taken is told how
long to sleep; a 429's pause is a key every worker sees.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import BEHIND, PAUSED, WINDOW, Limiter, Slot, StateLost, Wait
from catfacts.settings import Rate

STAY_MARGIN_MS = 1000  # a waiting client is forgotten this long after a window without a word

# KEYS: slots, pause, limit, seq, waiting, served. ARGV: limit, window ms, lease ms, a new slot id,
# the last seq this process saw (0: none, or too long ago), 1 if the upstream told this process
# `limit`, which then stands for everyone until someone hears another (re-asserted after it
# expired or was lost), this process's id, how long ms a process's word that it waits lasts, then
# the clients it has work for, in its turn order.
# Every acquire counts in `seq`: a count that went back means the slots went back too (a restart,
# FLUSHALL, a lagging replica) without any error, so everyone waits a window.
# A slot taken over gets the new id, so a late release by its previous holder changes nothing.
# Fair shares: `waiting` holds "process\nclient" until its score (each ask renews the caller's,
# and drops those it no longer names); `served` counts slots per client. A client that starts
# waiting starts level with the least served of those already waiting (never ahead of its own
# count). A free slot goes to the caller's first client served least among everyone waiting; if
# another process's client is further behind, the caller waits until the slot after this one
# frees (a slot's share of a window at least), while that process takes this one.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local limit, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local seq = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], lease + window)
local seen = tonumber(ARGV[5])
if seen > 0 and seq <= seen then
  redis.call('SET', KEYS[2], '1', 'PX', window)
  return {0, window, 'lost', seq}
end
local me, stay = ARGV[7], tonumber(ARGV[8])
local mine = {}
for i = 9, #ARGV do mine[ARGV[i]] = true end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local waiting, least = {}, nil
for _, member in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
  local cut = string.find(member, '\\n', 1, true)
  local client = string.sub(member, cut + 1)
  if string.sub(member, 1, cut - 1) == me and not mine[client] then
    redis.call('ZREM', KEYS[5], member)
  elseif not waiting[client] then
    local served = tonumber(redis.call('HGET', KEYS[6], client)) or 0
    waiting[client] = served
    if least == nil or served < least then least = served end
  end
end
for i = 9, #ARGV do
  local client = ARGV[i]
  if waiting[client] == nil then
    local served = tonumber(redis.call('HGET', KEYS[6], client)) or 0
    if least ~= nil and served < least then
      served = least
      redis.call('HSET', KEYS[6], client, served)
    end
    waiting[client] = served
  end
  redis.call('ZADD', KEYS[5], now + stay, me .. '\\n' .. client)
end
if #ARGV >= 9 then
  redis.call('PEXPIRE', KEYS[5], stay)
  redis.call('PEXPIRE', KEYS[6], stay + window)
end
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {0, paused, 'paused', seq} end
local heard = tonumber(redis.call('GET', KEYS[3]))
if heard == nil and ARGV[6] == '1' then
  redis.call('SET', KEYS[3], limit, 'EX', 86400)
elseif heard and heard < limit then
  limit = heard
end
local taken = nil
if redis.call('ZCARD', KEYS[1]) >= limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local free_at = tonumber(first[2])
  if free_at > now then
    return {0, math.min(free_at, now + window) - now, 'window', seq}
  end
  taken = first[1]
end
local least_all = nil
for _, served in pairs(waiting) do
  if least_all == nil or served < least_all then least_all = served end
end
local chosen = ''
for i = 9, #ARGV do
  if waiting[ARGV[i]] <= least_all then chosen = ARGV[i] break end
end
if chosen == '' and #ARGV >= 9 then
  local step = math.max(1, math.floor(window / limit))
  local after = redis.call('ZRANGE', KEYS[1], 1, 1, 'WITHSCORES')
  if taken and after[2] then step = math.max(step, tonumber(after[2]) - now) end
  return {0, math.min(step, window), 'behind', seq}
end
if chosen ~= '' then
  redis.call('HINCRBY', KEYS[6], chosen, 1)
  redis.call('PEXPIRE', KEYS[6], stay + window)
end
if taken then redis.call('ZREM', KEYS[1], taken) end
redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[1], lease + window)
return {1, ARGV[4], chosen, seq}
"""

# KEYS: waiting. ARGV: this process's id. It waits for no client any more.
_WITHDRAW = """
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, #ARGV[1] + 1) == ARGV[1] .. '\\n' then
    redis.call('ZREM', KEYS[1], member)
  end
end
"""

# KEYS: slots. ARGV: slot id, delay ms (window after an answer, 0 for an unused slot), ttl ms.
_RELEASE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
"""

# KEYS: pause. ARGV: ms. Only ever lengthens a pause.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""

# KEYS: limit, slots. ARGV: limit, window change ms. The latest limit anyone heard announced, for
# everyone; every slot frees one window after its answer, whichever window is in force; drops the
# slots that free soonest, as the memory limiter does.
_SET_RATE = """
local limit, shift = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('SET', KEYS[1], limit, 'EX', 86400)
if shift ~= 0 then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    redis.call('ZINCRBY', KEYS[2], shift, member)
  end
end
local extra = redis.call('ZCARD', KEYS[2]) - limit
if extra > 0 then redis.call('ZPOPMIN', KEYS[2], extra) end
"""


class RedisLimiter(Limiter):
    """L slots in Redis, shared by every process that names the same Redis and upstream."""

    def __init__(self, rate: Rate, redis_url: str, upstream_url: str, lease: float) -> None:
        super().__init__(rate)
        self._lease = lease
        self._window_ms = round(rate.window * 1000)
        self._lease_ms = round((lease + rate.window) * 1000)
        prefix = f"catfacts:{{{upstream_url}}}"  # one hash slot per upstream in a cluster
        self._slots, self._pause = f"{prefix}:slots", f"{prefix}:pause"
        self._limit_key, self._seq = f"{prefix}:limit", f"{prefix}:seq"
        self._waiting, self._served = f"{prefix}:waiting", f"{prefix}:served"
        self._seen, self._seen_at = 0, 0.0  # the last `seq` Redis gave us, and when
        self._me = uuid.uuid4().hex[:12]
        self._ids = (f"{self._me}:{n}" for n in itertools.count(1))
        self._named = False  # whether Redis may hold clients this process said it waits for
        # Short timeouts: a Redis that is down must be a prompt 503, never a hang. Connections
        # are made on first use, on the background loop.
        # One immediate retry on a broken connection: a pooled one fails once after a restart.
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 1)
        )
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in [
                ("acquire", _ACQUIRE),
                ("release", _RELEASE),
                ("pause", _PAUSE),
                ("set_rate", _SET_RATE),
                ("withdraw", _WITHDRAW),
            ]
        }

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        keys = [self._slots, self._pause, self._limit_key, self._seq, self._waiting, self._served]
        # Past the keys' expiry our last `seq` means nothing: the slots legitimately expired too.
        recent = time.monotonic() - self._seen_at < (self._lease_ms + self._window_ms) / 2000
        told = int(self.limit != self.rate.limit)
        args: list[str | int] = [self.limit, self._window_ms, self._lease_ms, next(self._ids)]
        # Every wait is at most a window: a process that still waits renews its word in time.
        args += [self._seen if recent else 0, told, self._me, self._window_ms + STAY_MARGIN_MS]
        args += list(dict.fromkeys(clients))
        self._named = self._named or bool(clients)
        granted, value, reason, seq = await self._run("acquire", keys, args)
        self._seen, self._seen_at = int(seq), time.monotonic()
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
                await self._run("withdraw", [self._waiting], [self._me])

    async def release(self, slot: Slot) -> None:
        await self._run("release", [self._slots], [slot.id, self._window_ms, self._ttl()])

    async def cancel(self, slot: Slot) -> None:
        await self._run("release", [self._slots], [slot.id, 0, self._ttl()])

    async def pause(self, seconds: float) -> None:
        await self._run("pause", [self._pause], [round(seconds * 1000)])

    async def set_rate(self, limit: int, window: float) -> None:
        shift_ms = round(window * 1000) - self._window_ms
        self.limit, self.window = limit, window
        self._window_ms = round(window * 1000)
        self._lease_ms = round((self._lease + window) * 1000)
        await self._run("set_rate", [self._limit_key, self._slots], [limit, shift_ms])

    async def close(self) -> None:
        await self._redis.aclose()

    def _ttl(self) -> int:
        return self._lease_ms + self._window_ms

    async def _run(self, script: str, keys: list[str], args: Sequence[str | int]) -> list[Any]:
        try:
            result = await self._scripts[script](keys=keys, args=args)
        except (RedisError, OSError) as error:
            raise ServiceUnavailable(
                f"the shared rate limiter (Redis) is unreachable: {type(error).__name__}"
            ) from None
        return list(result) if isinstance(result, list) else []


_REASONS = {"window": WINDOW, "paused": PAUSED, "behind": BEHIND}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
