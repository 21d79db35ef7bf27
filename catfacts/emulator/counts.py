"""Answers counted by key (client, request id, path), keeping only the most recently seen keys.

Memory stays flat whatever the clients' addresses and request ids: each count keeps the KEYS_KEPT
most recently seen keys, least recently seen forgotten first, so a test's keys are always the
most recent.
"""

from __future__ import annotations

from collections import OrderedDict

# The keys kept by client, by request id and by path, each; the least recently seen go first.
KEYS_KEPT = 4096


class RecentCounts:
    """Counts by status for each key, keeping only the `capacity` most recently counted keys.

    About 250 bytes a key (the key, a small dict, its place in the order), so at most ~1 MB at
    KEYS_KEPT keys. `forgotten` says how many keys were dropped since the last `clear`.
    """

    def __init__(self, capacity: int = KEYS_KEPT) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.forgotten = 0
        self._counts: OrderedDict[str, dict[int, int]] = OrderedDict()

    def count(self, key: str, status: int) -> None:
        """One more `status` for `key`, which becomes the most recently seen."""
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = {}
            if len(self._counts) > self.capacity:
                self._counts.popitem(last=False)
                self.forgotten += 1
        else:
            self._counts.move_to_end(key)
        counts[status] = counts.get(status, 0) + 1

    def clear(self) -> None:
        self._counts.clear()
        self.forgotten = 0

    def __len__(self) -> int:
        return len(self._counts)

    def to_json(self) -> dict[str, dict[str, int]]:
        """{key: {status: count}}, least recently seen key first."""
        return {key: by_status(counts) for key, counts in self._counts.items()}


def by_status(counts: dict[int, int]) -> dict[str, int]:
    return {str(status): count for status, count in sorted(counts.items())}
