"""The three ways to fetch n facts, side by side, behind one small protocol (`base.py`).

- `one_by_one`: n requests one after another; stops at the first failure.
- `all_at_once`: n requests at once; whatever the upstream refuses is dropped.
- `limited/`: n requests through the dispatcher, as fast as the limit allows; exactly n come back.

`table.py` names each once (path, label, a line of description); everyone reads it from there.
Importing this package loads neither Flask nor any strategy's machinery.
"""

from catfacts.strategies.base import LoopStrategy, OnFact, Order, Runner, Strategy, ThreadStrategy
from catfacts.strategies.table import (
    ALL_AT_ONCE,
    JSON,
    LIMITED,
    NDJSON,
    ONE_BY_ONE,
    STRATEGIES,
    Info,
)

__all__ = [
    "ALL_AT_ONCE",
    "JSON",
    "LIMITED",
    "NDJSON",
    "ONE_BY_ONE",
    "STRATEGIES",
    "Info",
    "LoopStrategy",
    "OnFact",
    "Order",
    "Runner",
    "Strategy",
    "ThreadStrategy",
]
