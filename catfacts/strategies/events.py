"""A call's events, handed to the caller's thread as they happen: facts, requests, waits.

Whatever the strategy, a streamed call reads the same events in its own thread: a `Fact` as
each arrives; with `trace`, a `RequestDone` as each request ends and a `WaitBegun` as each wait
begins; and `Progress` when nothing else happened for `HEARTBEAT` seconds (a long limiter wait).
A strategy that sends from the caller's thread yields them between its requests (`in_thread`); one
on the event loop hands them over through a queue (`LoopEvents`). Either way `close()` ends the
call: its remaining requests are dropped.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from catfacts.errors import CatFactsError, ServiceUnavailable
from catfacts.observe.timeline import Attempt, Timeline

if TYPE_CHECKING:
    from catfacts.strategies.base import OnFact, Runner

# nginx gives up on a silent upstream after 60 s by default; a line every few seconds also tells
# a person watching that the call is alive while the limiter waits for the next window.
HEARTBEAT = 5.0
# A wait at least this long gets a progress line as it begins, so a caller learns at once that
# the call waits (for the upstream's window, say) and until when, not at the next heartbeat.
PROMPT_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class Fact:
    """The `index`th fact of the call (from 1), as it arrived."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class RequestDone:
    """One upstream request ended (with `trace`)."""

    attempt: Attempt


@dataclass(frozen=True, slots=True)
class WaitBegun:
    """A wait began, from `start` to `end` (timeline clock) for `reason` (with `trace`)."""

    start: float
    end: float
    reason: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Nothing else happened for a while, or a long wait began: the call is alive."""


PROGRESS = Progress()
Event = Fact | RequestDone | WaitBegun | Progress


class Events(Protocol):
    """A call's events, in the caller's thread; `close()` ends the call."""

    def __iter__(self) -> Iterator[Event]: ...

    def close(self) -> None: ...


class LoopEvents:
    """Events of a strategy running on the event loop, handed over through a queue."""

    def __init__(
        self,
        runner: Runner,
        work: Callable[[OnFact], Coroutine[Any, Any, list[str]]],
        timeline: Timeline,
        trace: bool,
    ) -> None:
        self._runner = runner
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        put = self._queue.put
        if trace:
            timeline.listener = lambda attempt: put(RequestDone(attempt))
            timeline.wait_listener = lambda start, end, reason: put(WaitBegun(start, end, reason))
        else:
            timeline.wait_listener = _long_waits(put)
        self._future = runner.submit(work(lambda index, fact: put(Fact(index, fact))))
        self._future.add_done_callback(lambda _: put(None))

    def __iter__(self) -> Iterator[Event]:
        """Every event until the work ends; then its error, if it failed, is raised."""
        while True:
            try:
                event = self._queue.get(timeout=HEARTBEAT)
            except queue.Empty:
                if not self._runner.responsive():
                    raise ServiceUnavailable("the background loop is not responding") from None
                yield PROGRESS
                continue
            if event is None:
                self._future.result()
                return
            yield event

    def close(self) -> None:
        self._future.cancel()  # cancels the task on the loop: queued requests are dropped


def _long_waits(put: Callable[[Event], None]) -> Callable[[float, float, str], None]:
    """A progress line as each long wait begins (once per wait, however often it is extended)."""
    told: set[float] = set()

    def heard(start: float, end: float, reason: str) -> None:
        if end - start >= PROMPT_WAIT and start not in told:
            told.add(start)
            put(PROGRESS)

    return heard


def in_thread(
    facts: Iterator[str], timeline: Timeline, trace: bool
) -> Generator[Event, None, None]:
    """Events of a strategy that yields its facts in this thread (one by one)."""
    requests: list[Attempt] = []
    if trace:
        timeline.listener = requests.append
    try:
        for index, fact in enumerate(facts, 1):
            yield from _taken(requests)
            yield Fact(index, fact)
    except CatFactsError:
        yield from _taken(requests)  # the failed request, before the error line
        raise
    finally:
        close = getattr(facts, "close", None)
        if close is not None:
            close()  # no further request once the caller is gone
    yield from _taken(requests)


def _taken(requests: list[Attempt]) -> Iterator[Event]:
    while requests:
        yield RequestDone(requests.pop(0))
