"""The inbound limit's counts in this process's memory, when no Redis is configured.

`limits`' own memory storage lets a client's moving-window entries expire, but keeps the client's
key, an empty list, for ever: one per address ever seen, so a crowd of addresses (IPv6 gives one
attacker millions) grows the worker without bound. This one also forgets clients whose entries
have all expired, in sweeps whose cost is spread over the calls (each when the clients counted
have doubled since the last), so it holds at most about twice the clients of one window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from limits.storage import MemoryStorage

SCHEME = "catfacts-memory"
FLOOR = 1024  # clients below which no sweep is worth its time


class ForgetfulMemoryStorage(MemoryStorage):
    """`limits`' memory storage, whose moving windows forget the clients they no longer count."""

    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 (limits' registry reads it off the class)

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        clock: Callable[[], float] = time.time,  # the sweep's, for tests
        **options: str,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._clock = clock
        self._sweep_at = FLOOR
        self._sweeping = threading.Lock()

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if len(self.events) >= self._sweep_at and self._sweeping.acquire(blocking=False):
            try:
                self._sweep()
            finally:
                self._sweeping.release()
        return super().acquire_entry(key, limit, expiry, amount)

    def _sweep(self) -> None:
        """Drop every client whose newest entry has expired (entries are newest first)."""
        now = self._clock()
        for key, entries in list(self.events.items()):
            if entries and entries[0].expiry > now:
                continue
            with self.locks[key]:
                held = self.events.get(key, [])
                gone = not held or held[0].expiry <= now
                if gone:
                    self.events.pop(key, None)
            if gone:  # limits' own timer drops a lock only with its key's entries
                self.locks.pop(key, None)
        self._sweep_at = max(2 * len(self.events), FLOOR)
