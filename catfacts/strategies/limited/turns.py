"""Who goes next: the budget is shared round-robin between clients, then between their calls.

A client is whoever the service tells apart (its API key when keys are configured, else its
address). Sharing per call would give a client with fifty calls fifty shares; sharing per client
gives it one, split again between its own calls. Each worker keeps its own turns; with several
workers sharing Redis, the limiter says whose turn it is across workers (it hears `waiting`, the
clients in this worker's turn order, and grants a slot for one of them), and `next_call` serves
that client's next call here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from catfacts.limiter import Queued
from catfacts.strategies.limited.calls import Call


class Turns:
    """The calls in flight, grouped by client, in the order their turns come round."""

    def __init__(self) -> None:
        self._clients: deque[deque[Call]] = deque()  # one queue of calls per client

    def add(self, call: Call) -> None:
        for calls in self._clients:
            if calls[0].client == call.client:
                calls.append(call)
                return
        self._clients.append(deque([call]))

    def remove(self, call: Call) -> None:
        for calls in self._clients:
            if call in calls:
                calls.remove(call)
                if not calls:
                    self._clients.remove(calls)
                return

    def waiting(self) -> list[str]:
        """The clients with something queued, in the order their turns come round."""
        return [calls[0].client for calls in self._clients if any(c.pending for c in calls)]

    def next_call(self, client: str | None = None) -> Call | None:
        """The next client with something queued, then the next of its calls that has.

        With `client` (the limiter chose it), that client's turn, then its turn goes round;
        if it has nothing queued any more, the next client's.
        """
        for calls in self._clients if client is not None else ():
            if calls[0].client == client and any(call.pending for call in calls):
                self._clients.remove(calls)
                self._clients.append(calls)
                return self._next_of(calls)
        for _ in range(len(self._clients)):
            calls = self._clients[0]
            self._clients.rotate(-1)
            if (call := self._next_of(calls)) is not None:
                return call
        return None

    @staticmethod
    def _next_of(calls: deque[Call]) -> Call | None:
        for _ in range(len(calls)):
            call = calls[0]
            calls.rotate(-1)
            if call.pending:
                return call
        return None

    def sent_before(
        self, client: str, n: int, elsewhere: Queued | None = None, call: Call | None = None
    ) -> int:
        """Requests sent until the last of n more by `client`, that one included: a new call's
        n, or the n still queued of `call` (then not counted twice).

        The client's own calls share its turns, so they send min(theirs, n) each; every other
        client has one turn per turn of this client's, so it sends at most that many, and so does
        what other workers have queued (`elsewhere`, per client).
        """
        own_turns = n
        theirs: dict[str, int] = {}
        for calls in self._clients:
            pending = [len(other.pending) for other in calls if other is not call]
            if calls[0].client == client:
                own_turns += sum(min(p, n) for p in pending)
            else:
                theirs[calls[0].client] = sum(pending)
        # Across workers the shared limiter serves the client furthest behind; the same client
        # on another worker takes turns with this one, a slot each: a party of its own either way.
        sent_elsewhere = sum(min(requests, own_turns) for _, requests in (elsewhere or {}).values())
        return own_turns + sum(min(p, own_turns) for p in theirs.values()) + sent_elsewhere

    def queued(self) -> dict[str, tuple[int, int]]:
        """Per client: its calls in flight and their requests not yet sent (for other workers'
        estimates)."""
        return {
            calls[0].client: (len(calls), sum(len(call.pending) for call in calls))
            for calls in self._clients
        }

    def __iter__(self) -> Iterator[Call]:
        return (call for calls in list(self._clients) for call in list(calls))

    def __len__(self) -> int:
        return sum(len(calls) for calls in self._clients)

    def __bool__(self) -> bool:
        return bool(self._clients)
