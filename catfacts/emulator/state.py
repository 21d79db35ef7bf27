"""The emulator's memory between requests, shared by the public and the admin routes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from catfacts.emulator.catalog import FactCatalog
from catfacts.emulator.config import EmulatorConfig
from catfacts.emulator.facts import FACTS
from catfacts.emulator.faults import FaultInjector
from catfacts.emulator.limit_req import LeakyBucketThrottle
from catfacts.emulator.throttle import Clock, FixedWindowThrottle, Rate, parse_rates
from catfacts.emulator.traffic import TrafficLog


class EmulatorState:
    """Everything the emulator keeps between requests, and the one place where settings change."""

    def __init__(self, config: EmulatorConfig, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.config = config
        self.catalog = FactCatalog(FACTS)
        self.rates: tuple[Rate, ...] = parse_rates(config.rate_limit)
        self.throttle = self._new_throttle()
        self.bucket = self._new_bucket()
        self.faults = FaultInjector(config)
        self.traffic = TrafficLog()
        self._tag_counts: Counter[str] = Counter()

    def configure(self, changes: Mapping[str, object]) -> None:
        """Apply `changes`, JSON values by setting name; on ConfigError nothing has changed.

        A new plan or seed restarts the plan or the generators; a new rate limit (even the same
        one) starts every client afresh, as the windows of the old rate mean nothing under it, and
        so does a new burst for the buckets of the `proxy` dialect.
        """
        self.config = self.config.updated(changes)
        self.faults.reconfigure(self.config, changes.keys())
        if "rate_limit" in changes:
            self.rates = parse_rates(self.config.rate_limit)
            self.throttle = self._new_throttle()
        if "rate_limit" in changes or "burst" in changes:
            self.bucket = self._new_bucket()

    def reset(self) -> None:
        """Forget the traffic, the rate windows and buckets, and the tag counts; settings stay."""
        self.traffic.clear()
        self.throttle.reset()
        self.bucket.reset()
        self._tag_counts.clear()

    def config_json(self) -> dict[str, Any]:
        """The settings, with `plan` showing the fates still to come rather than those set."""
        return {**self.config.to_json(), "plan": [str(fate) for fate in self.faults.pending_plan]}

    def tag(self, fact: str, request_id: str | None) -> str:
        """`fact`, marked with the caller's request id and count when `tag_facts` is on.

        With every fact marked "[id #k]", a test can prove that each caller got its own answers.
        """
        if not self.config.tag_facts:
            return fact
        tag = request_id or "-"
        self._tag_counts[tag] += 1
        return f"{fact} [{tag} #{self._tag_counts[tag]}]"

    def _new_throttle(self) -> FixedWindowThrottle:
        return FixedWindowThrottle(self.rates, clock=self.clock)

    def _new_bucket(self) -> LeakyBucketThrottle:
        return LeakyBucketThrottle(self.rates, burst=self.config.burst, clock=self.clock)


STATE = web.AppKey("emulator_state", EmulatorState)
