"""A call answered as NDJSON (`Accept: application/x-ndjson`): facts as they arrive, then a summary.

A limited call for 500 facts at 100 a minute takes five minutes; streamed, the caller sees every
fact come and a proxy sees bytes flowing. Each line is one JSON object, told apart by its key:

- `{"index": 3, "fact": "..."}`, one per fact, in the order they arrive;
- `{"progress": {...}}` when no other line went for a few seconds (a long limiter wait:
  `strategies.events.HEARTBEAT`);
- `{"request": {...}}` and `{"wait": {...}}` with `?trace=1`, as each request ends or wait begins;
- last, `{"summary": {...}}`, or `{"error": ..., "status": ...}` when the call failed midway.

A strategy that can tell when the call will end (the limited one) adds `"eta"` to every line:
seconds until the last fact, as last reckoned and counted down since (`strategies.estimate`), 0 on
the last line; and while the call waits (for the upstream's window, a pause, its turn), what for
and how long (`"waiting"`). A wait of a few seconds gets a progress line as it begins.

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
from catfacts.limiter import PAUSED, WINDOW
from catfacts.observe.timeline import Timeline, wait_json
from catfacts.strategies.estimate import Estimate
from catfacts.strategies.events import Event, Events, Fact, Progress, RequestDone, WaitBegun
from catfacts.strategies.limited.pump import NONE_REMAIN

# What a wait's reason is, in one word a client can act on (`waiting.for` on a progress line).
WAITS_FOR = {WINDOW: "window", NONE_REMAIN: "window", PAUSED: "pause"}

log = logging.getLogger(__name__)


class FactStream:
    """The body of a streamed answer: NDJSON lines from `events`; `close` ends the call."""

    def __init__(
        self,
        events: Events,
        timeline: Timeline,
        trace: bool,
        on_close: Callable[[], None],
        estimate: Estimate | None = None,
    ) -> None:
        self._events = events
        self._estimate = estimate
        self._timeline = timeline
        self._trace = trace
        self._on_close = on_close
        self._fetched = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            for event in self._events:
                yield _line(self._timed(self._format(event)))
        except CatFactsError as error:
            yield _line(self._timed(self._failed(error), ended=True))
            return
        except Exception as error:
            log.error("unexpected error in a streamed call", exc_info=error)
            failed = self._failed(CatFactsError("internal error; see the service log"))
            yield _line(self._timed(failed, ended=True))
            return
        yield _line(self._timed(self._succeeded(), ended=True))

    def close(self) -> None:
        self._events.close()
        self._timeline.close()
        self._on_close()

    def _timed(self, line: dict[str, Any], ended: bool = False) -> dict[str, Any]:
        """The line with its `eta`, where the strategy estimates (0 once the call is over), and
        while the call waits, what for and how long (`waiting`)."""
        estimate = self._estimate
        seconds = None if estimate is None else estimate.seconds()
        if estimate is None or seconds is None:
            return line
        line["eta"] = 0.0 if ended else round(seconds, 3)
        waiting = None if ended else estimate.waiting()
        if waiting is not None:
            reason, left = waiting
            kind = WAITS_FOR.get(reason, "turn")
            line["waiting"] = {"for": kind, "reason": reason, "seconds": round(left, 3)}
        return line

    def _format(self, event: Event) -> dict[str, Any]:
        start = self._timeline.start
        match event:
            case Fact(index, text):
                self._fetched += 1
                return {"index": index, "fact": text}
            case RequestDone(attempt):
                return {"request": attempt.to_json(start)}
            case WaitBegun(began, end, reason):
                return {"wait": wait_json(began, end, reason, start)}
            case Progress():
                elapsed = self._timeline.summary()["total_ms"]
                fetched, requested = self._fetched, self._timeline.n
                return {
                    "progress": {"fetched": fetched, "requested": requested, "elapsed_ms": elapsed}
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
