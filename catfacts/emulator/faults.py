"""Decides how each answer misbehaves: its fate and how long it waits.

Tests need faults they can script (the plan) and benchmarks need faults at a steady rate (the
rates, reproducible with a seed). Both live here so the handlers only carry the decision out.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from catfacts.emulator.config import EmulatorConfig, Fate


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do with one request: wait `delay` seconds, then answer according to `fate`."""

    fate: Fate
    delay: float


class FaultInjector:
    """Draws fates and delays for the requests that passed the rate limiter.

    A /fact request takes the next fate from the plan while the plan lasts, and otherwise draws
    one from the fault rates. /facts is only delayed: the faults are about fetching single facts.
    Fates and jitter come from separate generators, both seeded from `seed`, so a given seed
    gives the same sequence of faults whatever the jitter.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._plan = deque(config.plan)
        self._fate_rng = random.Random(config.seed)
        self._jitter_rng = random.Random(config.seed)

    @property
    def pending_plan(self) -> tuple[Fate, ...]:
        """The fates the plan still holds, next first."""
        return tuple(self._plan)

    def reconfigure(self, config: EmulatorConfig, changed: Collection[str]) -> None:
        """Use `config` from now on; restart the plan or the generators if `changed` names them."""
        self._config = config
        if "plan" in changed:
            self._plan = deque(config.plan)
        if "seed" in changed:
            self._fate_rng.seed(config.seed)
            self._jitter_rng.seed(config.seed)

    def for_fact(self) -> Outcome:
        """The outcome of a /fact request."""
        fate = self._plan.popleft() if self._plan else self._draw_fate()
        return Outcome(fate, self._delay(fate))

    def for_listing(self) -> Outcome:
        """The outcome of a /facts request: always answered, after the usual latency."""
        return Outcome(Fate.OK, self._delay(Fate.OK))

    def for_redirect(self) -> Outcome:
        """The outcome of a redirect from /fact: the usual latency, and no fate of the plan.

        The plan and the fault rates are about the facts themselves, which the next hop serves.
        """
        return Outcome(Fate.OK, self._delay(Fate.OK))

    def _draw_fate(self) -> Fate:
        config = self._config
        draw = self._fate_rng.random()
        for fate, rate in (
            (Fate.ERROR, config.error_rate),
            (Fate.MALFORMED, config.malformed_rate),
            (Fate.MISSING_FACT, config.missing_fact_rate),
            (Fate.SLOW, config.slow_rate),
            (Fate.DROP, config.drop_rate),
        ):
            if draw < rate:
                return fate
            draw -= rate
        return Fate.OK

    def _delay(self, fate: Fate) -> float:
        config = self._config
        delay = config.latency
        if config.jitter:
            delay = max(0.0, delay + self._jitter_rng.uniform(-config.jitter, config.jitter))
        if fate is Fate.SLOW:
            delay += config.slow_seconds
        return delay
