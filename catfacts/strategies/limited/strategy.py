"""The limited strategy as every caller calls it: the dispatcher, behind the common protocol."""

from __future__ import annotations

from catfacts.strategies.base import LoopStrategy, OnFact, Order
from catfacts.strategies.limited.dispatcher import Dispatcher
from catfacts.strategies.table import LIMITED


class Limited(LoopStrategy):
    """Exactly n facts through the process's one dispatcher, as fast as the limit allows."""

    info = LIMITED

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def admit(self, order: Order) -> None:
        """Refused at once (503, with the estimate) if the queue cannot serve it in time."""
        await self._dispatcher.admit(order.n, order.deadline, order.client, order.estimate)

    async def run(self, order: Order, on_fact: OnFact | None = None) -> list[str]:
        return await self._dispatcher.run(
            order.n, order.timeline, on_fact, order.client, estimate=order.estimate
        )
