"""The emulator's memory between requests, shared by the public and the admin routes.

All of it is bounded, so the embedded upstream of `make run` keeps flat memory for as long as it
runs: the traffic log keeps the latest arrivals and keys (`traffic`), the rate limiters forget the
clients whose windows are over (`throttle`, `limit_req`), and the tag counts keep the most
recently seen request ids. `sizes_json` says how full each is, for the soak tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from catfacts.emulator.catalog import FactCatalog
from catfacts.emulator.config import EmulatorConfig
from catfacts.emulator.facts import FACTS
from catfacts.emulator.faults import FaultInjector
from catfacts.emulator.limit_req import LeakyBucketThrottle
from catfacts.emulator.throttle import Clock, FixedWindowThrottle, parse_rates
from catfacts.emulator.traffic import KEYS_KEPT, TrafficLog
from catfacts.rates import Rate


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
        self.traffic = TrafficLog(rate.window for rate in self.rates)
        # Per request id, bounded as the traffic log's keys are: the least recently seen go first.
        self._tag_counts: OrderedDict[str, int] = OrderedDict()

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
            self.traffic.watch(rate.window for rate in self.rates)
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
        The counts of the KEYS_KEPT most recently seen ids are kept: an id quiet for longer than
        that many others starts again at #1.
        """
        if not self.config.tag_facts:
            return fact
        tag = request_id or "-"
        count = self._tag_counts.pop(tag, 0) + 1
        self._tag_counts[tag] = count  # now the most recently seen
        if len(self._tag_counts) > KEYS_KEPT:
            self._tag_counts.popitem(last=False)
        return f"{fact} [{tag} #{count}]"

    def sizes_json(self) -> dict[str, int]:
        """How many entries each structure that grows with traffic holds, for soak tests."""
        return {
            **self.traffic.sizes_json(),
            "throttle_keys": len(self.throttle),
            "bucket_keys": len(self.bucket),
            "tag_ids": len(self._tag_counts),
        }

    def _new_throttle(self) -> FixedWindowThrottle:
        return FixedWindowThrottle(self.rates, clock=self.clock)

    def _new_bucket(self) -> LeakyBucketThrottle:
        return LeakyBucketThrottle(self.rates, burst=self.config.burst, clock=self.clock)


STATE = web.AppKey("emulator_state", EmulatorState)
