"""The shared limiter's Lua scripts on one Redis: each loaded once, each run atomic there, and
each failure a prompt `RedisUnavailable` that names its cause.

Apart from `RedisLimiter` (`redis.py`), so that it reads as what each operation asks of Redis,
and this as how it is asked: the connection, the scripts' texts, and what an error means.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from catfacts.errors import ServiceUnavailable
from catfacts.redis_connect import ERRORS, AsyncClient, verdict

REDIS_TIMEOUT = 1.0  # seconds: a Redis that is down must be a prompt 503, never a hang
SCRIPTS: tuple[str, ...] = ("acquire", "release", "pause", "share", "withdraw", "view", "rejoin")
SCRIPTS += ("survey",)  # what the budget looks like, for estimates (`strategies/estimate.py`)
SCRIPTS += ("charge", "settle")  # all at once's requests (`strategies/overdraft.py`)
SCRIPTS += ("confirm",)  # a slot sent on long after its grant (`redis.CONFIRM_AFTER`)
NEEDS_ROOM = ("acquire", "charge")  # the scripts that call room.lua's `room_wait`


class RedisUnavailable(ServiceUnavailable):
    """Redis failed the limiter: `lasting` when waiting will not mend it (a refused password, a
    cluster node named as a server), else it may answer again (down, unreachable, timed out)."""

    cause: str
    lasting: bool

    def __init__(self, message: str, cause: str, lasting: bool) -> None:
        super().__init__(message)
        self._set(cause=cause, lasting=lasting)


def script_text(name: str) -> str:
    """A Lua script from `lua/`, where each names its keys and arguments in a header comment;
    those that call `room_wait` get room.lua before them (a script cannot load another)."""
    folder = resources.files(__package__).joinpath("lua")
    text = folder.joinpath(f"{name}.lua").read_text("utf-8")
    return (folder.joinpath("room.lua").read_text("utf-8") + text) if name in NEEDS_ROOM else text


class Scripts:
    """Every script of `SCRIPTS`, run by name on the Redis that `redis_url` names."""

    def __init__(self, redis_url: str) -> None:
        # Short timeouts, one immediate retry (every script is safe to run twice). Connections
        # are made on first use, on the background loop.
        self._redis = AsyncClient(redis_url, REDIS_TIMEOUT)
        self._scripts = {name: self._redis.register_script(script_text(name)) for name in SCRIPTS}

    async def run(self, script: str, keys: list[str], args: Sequence[str | int]) -> list[Any]:
        """The script's answer (a list; anything else as empty), or `RedisUnavailable`."""
        try:
            result = await self._scripts[script](keys=keys, args=args)
        except ERRORS as error:
            why = verdict(error, self._redis.form, self._redis.timeout)
            raise RedisUnavailable(
                f"the shared rate limiter cannot use Redis: {why}", why.message, why.lasting
            ) from None
        return list(result) if isinstance(result, list) else []

    async def close(self) -> None:
        await self._redis.aclose()


def as_text(value: Any) -> str:
    """A string in a script's answer: bytes, as the client does not decode them."""
    return value.decode() if isinstance(value, bytes) else str(value)
