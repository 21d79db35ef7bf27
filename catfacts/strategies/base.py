"""What a strategy is to whoever calls it: one small protocol, the same for all three.

A call is an `Order` (n facts, the timeline that records them, and what some strategies heed: a
deadline, the client, a way to learn that the call must stop). Every strategy answers it two ways,
both in the caller's thread: `collect` returns the facts, `stream` hands them over as they come
(`events`). Where the requests go from is the strategy's own affair, not the caller's: one by one
sends them from the caller's thread, each as the last fact is taken (`ThreadStrategy`); the others
run on the process's event loop, reached through the `Runner` the caller passes
(`LoopStrategy`), and an asyncio program can await their `fetch` itself.
"""

from __future__ import annotations

import concurrent.futures
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from catfacts.errors import CatFactsError
from catfacts.observe.timeline import Timeline
from catfacts.strategies.estimate import Estimate
from catfacts.strategies.events import Events, LoopEvents, in_thread
from catfacts.strategies.table import Info

T = TypeVar("T")

# Hears of each fact as it arrives, by its index (from 1): a streamed answer sends it on at once.
OnFact = Callable[[int, str], None]
# Asked between requests (has the caller hung up, is the service stopping?): an error ends the call.
Interrupted = Callable[[], CatFactsError | None]


def not_interrupted() -> CatFactsError | None:
    return None


@dataclass(frozen=True)
class Order:
    """One call for n facts, as any strategy takes it; each heeds what applies to it."""

    n: int
    timeline: Timeline
    deadline: float | None = None  # seconds the caller will wait (`Info.takes_deadline`)
    client: str = ""  # who calls: a strategy that shares turns gives each client its own
    interrupted: Interrupted = not_interrupted  # asked before each request sent from the thread
    # When it will end, where the strategy can tell (the limited one): the header, each line's eta.
    estimate: Estimate = field(default_factory=Estimate)


class Runner(Protocol):
    """The event loop as a caller in another thread reaches it: `background.BackgroundLoop`, or
    the web layer's, which also ends the work when the caller hangs up."""

    def run(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T: ...

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]: ...

    def responsive(self) -> bool: ...


class Strategy(ABC):
    """One way to fetch n facts; the web layer, the command line and the bench call each alike."""

    info: ClassVar[Info]  # its row of the table

    @abstractmethod
    def collect(self, order: Order, runner: Runner) -> list[str]:
        """The facts, as this strategy promises them, or the error that ended the call."""

    @abstractmethod
    def stream(self, order: Order, runner: Runner, trace: bool) -> Events:
        """The call's events as they come; with `trace`, its requests and waits too."""


class ThreadStrategy(Strategy):
    """Sends from the caller's thread, each request as the last fact is taken: a caller who stops
    reading sends no more."""

    @abstractmethod
    def facts(self, order: Order) -> Iterator[str]:
        """The facts, each fetched when the one before it has been taken."""

    def collect(self, order: Order, runner: Runner) -> list[str]:
        return list(self.facts(order))

    def stream(self, order: Order, runner: Runner, trace: bool) -> Events:
        return in_thread(self.facts(order), order.timeline, trace)


class LoopStrategy(Strategy):
    """Sends from the event loop; an asyncio program awaits `fetch` on its own loop.

    A call is admitted once, then run: `fetch` does both, `stream` admits first (so that a
    refusal is still a plain error) and then runs it.
    """

    async def fetch(self, order: Order, on_fact: OnFact | None = None) -> list[str]:
        """The facts; `on_fact(index, fact)` hears of each as it arrives."""
        await self.admit(order)
        return await self.run(order, on_fact)

    async def admit(self, order: Order) -> None:
        """Refuse at once, before anything is spent, a call that cannot be served; most can."""

    @abstractmethod
    async def run(self, order: Order, on_fact: OnFact | None = None) -> list[str]:
        """The facts of a call already admitted; `on_fact` as for `fetch`."""

    def timeout(self, n: int) -> float | None:
        """The longest a call for n facts may take; None when the strategy bounds it itself."""
        return None

    def collect(self, order: Order, runner: Runner) -> list[str]:
        return runner.run(self.fetch(order), self.timeout(order.n))

    def stream(self, order: Order, runner: Runner, trace: bool) -> Events:
        runner.run(self.admit(order))  # a refusal is still a plain error, before any line goes
        return LoopEvents(runner, lambda on_fact: self.run(order, on_fact), order.timeline, trace)
