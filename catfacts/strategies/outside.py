"""Requests this process sent past the limiter (one by one, all at once), for the limited
strategy's reading of the upstream's count: the upstream counts them too, but they are ours, not
another client's to leave room for (`limited/held.py`). Without this, a limited call right after
`/cat_async/10` read those 10 as a neighbour's and left them half a window."""

from __future__ import annotations

import threading
import time
from collections import deque

KEPT = 10_000  # the latest sends remembered: far more than any window's limit lets through


class OutsideSends:
    """When each request sent past the limiter went, from any thread."""

    def __init__(self) -> None:
        self._at: deque[float] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

    def record(self, n: int = 1) -> None:
        now = time.monotonic()
        with self._lock:
            self._at.extend([now] * n)

    def since(self, start: float) -> int:
        """How many went at or after `start` (time.monotonic, the event loop's clock)."""
        with self._lock:
            count = 0
            for at in reversed(self._at):
                if at < start:
                    break
                count += 1
            return count
