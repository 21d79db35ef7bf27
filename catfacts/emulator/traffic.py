"""What the emulator saw: answers counted by status, and when each request arrived.

Tests judge a client by what reached the upstream, not by what the client says it did: how many
requests, from whom, with which outcome, and whether they ever came faster than the rate limit.

Memory stays flat however long the emulator runs (`make run` leaves it running for days), and
whatever the clients' addresses and request ids: the arrivals and their peaks are a ring
allocated once (`arrivals.py`), the counts by client, by request id and by path keep the most
recently seen keys (`counts.py`). The counts by status and the total count every answer since the
last reset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from catfacts.emulator.arrivals import ARRIVALS_KEPT, ArrivalLog
from catfacts.emulator.counts import KEYS_KEPT, RecentCounts, by_status

__all__ = ["ARRIVALS_KEPT", "KEYS_KEPT", "RecentCounts", "TrafficLog"]


class TrafficLog:
    """Counts the answers to rate-limited requests, by status, client, request id and path, and
    keeps when each arrived (`ArrivalLog`)."""

    def __init__(
        self,
        windows: Iterable[float] = (),
        *,
        capacity: int = ARRIVALS_KEPT,
        keys_kept: int = KEYS_KEPT,
    ) -> None:
        self._arrivals = ArrivalLog(windows, capacity)
        self.capacity = capacity
        self._statuses_seen: Counter[int] = Counter()
        self.by_client = RecentCounts(keys_kept)
        self.by_request_id = RecentCounts(keys_kept)
        self.by_path = RecentCounts(keys_kept)

    def arrive(self, time: float) -> int:
        """Note a request arriving at `time`; pass the ticket to `answered` when it is answered.

        Times must not go backwards: the emulator's clock is monotonic.
        """
        return self._arrivals.arrive(time)

    def answered(
        self, ticket: int, status: int, client: str, request_id: str | None, *, path: str
    ) -> None:
        """Count an answer; requests without an X-Request-ID are left out of `by_request_id`.

        By path, a redirect and the request that follows it are told apart: each hop is counted.

        A request that arrived before the last `clear` is not counted: a slow answer to an earlier
        test must not land in the next one's counts.
        """
        if not self._arrivals.answered(ticket, status):
            return
        self._statuses_seen[status] += 1
        self.by_client.count(client, status)
        self.by_path.count(path, status)
        if request_id is not None:
            self.by_request_id.count(request_id, status)

    def watch(self, windows: Iterable[float]) -> None:
        """Keep peaks for these windows (seconds) from now on (`ArrivalLog.watch`)."""
        self._arrivals.watch(windows)

    def clear(self) -> None:
        """Forget everything seen so far, and the answers still owed to requests seen so far."""
        self._arrivals.clear()
        self._statuses_seen.clear()
        self.by_client.clear()
        self.by_request_id.clear()
        self.by_path.clear()

    @property
    def forgotten(self) -> int:
        """How many arrivals since the last `clear` are no longer kept."""
        return self._arrivals.forgotten

    @property
    def kept(self) -> int:
        """How many arrivals since the last `clear` are kept."""
        return self._arrivals.kept

    def peaks(self) -> list[dict[str, Any]]:
        """For each window watched: the most arrivals in any such window, and the most 200s
        (`ArrivalLog.peaks`)."""
        return self._arrivals.peaks()

    def stats_json(self) -> dict[str, Any]:
        """The counts, with statuses as strings since JSON keys must be."""
        return {
            "statuses": by_status(self._statuses_seen),
            "by_client": self.by_client.to_json(),
            "by_request_id": self.by_request_id.to_json(),
            "by_path": self.by_path.to_json(),
            "total": self._statuses_seen.total(),
        }

    def arrivals_json(self) -> list[list[float]]:
        """`[time, status]` for each request kept, in the order they arrived."""
        return self._arrivals.to_json()

    def sizes_json(self) -> dict[str, int]:
        """How much each structure holds, against its bound: what a soak test watches."""
        return {
            "arrivals_kept": self.kept,
            "arrivals_capacity": self.capacity,
            "arrivals_forgotten": self.forgotten,
            "arrivals_unsettled": self._arrivals.unsettled,
            "clients": len(self.by_client),
            "request_ids": len(self.by_request_id),
            "paths": len(self.by_path),
            "keys_capacity": self.by_client.capacity,
            "clients_forgotten": self.by_client.forgotten,
            "request_ids_forgotten": self.by_request_id.forgotten,
            "paths_forgotten": self.by_path.forgotten,
        }
