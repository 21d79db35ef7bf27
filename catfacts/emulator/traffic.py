"""What the emulator saw: answers counted by status, and when each request arrived.

Tests judge a client by what reached the upstream, not by what the client says it did: how many
requests, from whom, with which outcome, and whether they ever came faster than the rate limit.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

# Enough for a long benchmark; the oldest arrivals are dropped past it, so memory stays bounded.
ARRIVALS_KEPT = 1_000_000


@dataclass(slots=True)
class Arrival:
    """One request: when it arrived (on the emulator's clock) and, once answered, its status."""

    time: float
    generation: int  # the log's generation when it arrived: a reset starts a new one
    status: int = 0  # 0 until the answer is sent


class TrafficLog:
    """Counts the answers to rate-limited requests, by status, client, request id and path."""

    def __init__(self) -> None:
        self._statuses: Counter[int] = Counter()
        self._by_client: dict[str, Counter[int]] = {}
        self._by_request_id: dict[str, Counter[int]] = {}
        self._by_path: dict[str, Counter[int]] = {}
        self._arrivals: deque[Arrival] = deque(maxlen=ARRIVALS_KEPT)
        self._generation = 0

    def arrive(self, time: float) -> Arrival:
        """Note a request arriving at `time`; pass the result to `answered` when it is answered."""
        arrival = Arrival(time, self._generation)
        self._arrivals.append(arrival)
        return arrival

    def answered(
        self, arrival: Arrival, status: int, client: str, request_id: str | None, *, path: str
    ) -> None:
        """Count an answer; requests without an X-Request-ID are left out of `by_request_id`.

        By path, a redirect and the request that follows it are told apart: each hop is counted.

        A request that arrived before the last `clear` is not counted: a slow answer to an earlier
        test must not land in the next one's counts.
        """
        arrival.status = status
        if arrival.generation != self._generation:
            return
        self._statuses[status] += 1
        self._by_client.setdefault(client, Counter())[status] += 1
        self._by_path.setdefault(path, Counter())[status] += 1
        if request_id is not None:
            self._by_request_id.setdefault(request_id, Counter())[status] += 1

    def clear(self) -> None:
        """Forget everything seen so far, and the answers still owed to requests seen so far."""
        self._generation += 1
        self._statuses.clear()
        self._by_client.clear()
        self._by_request_id.clear()
        self._by_path.clear()
        self._arrivals.clear()

    def stats_json(self) -> dict[str, Any]:
        """The counts, with statuses as strings since JSON keys must be."""
        return {
            "statuses": _by_status(self._statuses),
            "by_client": {client: _by_status(c) for client, c in self._by_client.items()},
            "by_request_id": {rid: _by_status(c) for rid, c in self._by_request_id.items()},
            "by_path": {path: _by_status(c) for path, c in self._by_path.items()},
            "total": self._statuses.total(),
        }

    def arrivals_json(self) -> list[list[float]]:
        """`[time, status]` for each request, in the order they arrived."""
        return [[arrival.time, arrival.status] for arrival in self._arrivals]


def _by_status(counts: Counter[int]) -> dict[str, int]:
    return {str(status): count for status, count in sorted(counts.items())}
