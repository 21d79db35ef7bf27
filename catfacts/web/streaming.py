"""A call answered as NDJSON (`Accept: application/x-ndjson`): facts as they arrive, then a summary.

A limited call for 500 facts at 100 a minute takes five minutes; streamed, the caller sees every
fact come and a proxy sees bytes flowing. Each line is one JSON object, told apart by its key:

- `{"index": 3, "fact": "..."}`, one per fact, in the order they arrive;
- `{"progress": {...}}` when no other line went for a few seconds (a long limiter wait:
  `strategies.events.HEARTBEAT`);
- `{"request": {...}}` and `{"wait": {...}}` with `?trace=1`, as each request ends or wait begins;
- last, `{"summary": {...}}`, or `{"error": ..., "status": ...}` when the call failed midway.

The events come from the strategy, whichever it is (`strategies.events`); this module writes them.
The body's `close()` (the server calls it when the caller is gone and a write failed, or after
the last line) ends the call: its remaining requests are dropped, and its admission place is
given back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from catfacts.errors import CatFactsError
from catfacts.observe.timeline import Timeline, wait_json
from catfacts.strategies.events import Event, Events

log = logging.getLogger(__name__)


class FactStream:
    """The body of a streamed answer: NDJSON lines from `events`; `close` ends the call."""

    def __init__(
        self,
        events: Events,
        timeline: Timeline,
        trace: bool,
        on_close: Callable[[], None],
    ) -> None:
        self._events = events
        self._timeline = timeline
        self._trace = trace
        self._on_close = on_close
        self._fetched = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            for event in self._events:
                yield _line(self._format(event))
        except CatFactsError as error:
            yield _line(self._failed(error))
            return
        except Exception as error:
            log.error("unexpected error in a streamed call", exc_info=error)
            yield _line(self._failed(CatFactsError("internal error; see the service log")))
            return
        yield _line(self._succeeded())

    def close(self) -> None:
        self._events.close()
        self._timeline.close()
        self._on_close()

    def _format(self, event: Event) -> dict[str, Any]:
        kind, start = event[0], self._timeline.start
        if kind == "fact":
            self._fetched += 1
            return {"index": event[1], "fact": event[2]}
        if kind == "request":
            return {"request": event[1].to_json(start)}
        if kind == "wait":
            return {"wait": wait_json(event[1], event[2], event[3], start)}
        summary = self._timeline.summary()
        return {
            "progress": {
                "fetched": self._fetched,
                "requested": self._timeline.n,
                "elapsed_ms": summary["total_ms"],
            }
        }

    def _succeeded(self) -> dict[str, Any]:
        timeline = self._timeline
        timeline.close()
        summary = {**self._summary(), "status": 200}
        line: dict[str, Any] = {"summary": summary}
        log.info(
            "%s: %d of %d facts streamed in %.1f ms",
            timeline.strategy,
            self._fetched,
            timeline.n,
            summary["total_ms"],
        )
        if self._trace:
            line["trace"] = timeline.to_json()
        return line

    def _failed(self, error: CatFactsError) -> dict[str, Any]:
        self._timeline.close()
        log.warning("%d in a streamed call: %s", error.status, error.message)
        error = error.without_details("facts")  # the facts so far are on their own lines
        line = {**error.body(), "request_id": self._timeline.request_id}
        line["summary"] = {**self._summary(), "status": error.status}
        if self._trace:
            line["trace"] = self._timeline.to_json()
        return line

    def _summary(self) -> dict[str, Any]:
        return {**self._timeline.summary(), "returned": self._fetched}


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"
