"""The facts the emulator serves, indexed for the two ways the API reads them.

/fact picks at random among the facts short enough, many thousand times a second, so the facts
are sorted by length once and a `max_length` filter costs a bisection rather than a scan.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence


class FactCatalog:
    """A fixed list of facts: random picks by maximum length, and the list in its own order."""

    def __init__(self, facts: Sequence[str]) -> None:
        self._in_order = tuple(facts)
        self._by_length = sorted(self._in_order, key=len)
        self._lengths = [len(fact) for fact in self._by_length]
        self._rng = random.Random()

    def pick(self, max_length: int | None = None) -> str | None:
        """A random fact of at most `max_length` characters; None if no fact is that short."""
        if max_length is None:
            fitting = len(self._by_length)
        else:
            fitting = bisect_right(self._lengths, max_length)
        return self._by_length[self._rng.randrange(fitting)] if fitting else None

    def listing(self, max_length: int | None = None) -> list[str]:
        """The facts of at most `max_length` characters, in the catalogue's fixed order."""
        if max_length is None:
            return list(self._in_order)
        return [fact for fact in self._in_order if len(fact) <= max_length]
