"""Running at the rates learned, here or by another worker, and sharing what is learned here.

The learner says what the rates are; the quota counts credit by them and the limiter spends by
them. Kept apart so that the rates in force change in one way, whoever learned them first.
"""

from __future__ import annotations

import logging

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import Limiter
from catfacts.rates import Rates
from catfacts.strategies.limited.learning import RateLearner
from catfacts.strategies.limited.quota import UpstreamQuota

log = logging.getLogger(__name__)


class RateFollower:
    """Puts the learner's rates in force in the quota and the limiter, and takes other workers'."""

    def __init__(self, learner: RateLearner, quota: UpstreamQuota, limiter: Limiter) -> None:
        self._learner = learner
        self._quota = quota
        self._limiter = limiter
        limiter.on_shared = self.adopt  # what another worker learned, through shared slots

    async def follow(self) -> None:
        """This worker learned new rates: run at them, and make them every worker's."""
        rates = self._learner.rates
        log.warning("the upstream announces %s: running at that", rates)
        self._quota.set_rates(rates)
        try:
            await self._limiter.set_rates(rates)  # another worker's, if it changed them first
        except ServiceUnavailable as error:
            log.warning("could not share the rates learned: %s", error.message)

    def adopt(self, rates: Rates) -> None:
        """Another worker learned `rates` (they came with the shared slots): run at them."""
        log.info("another worker learned the upstream's limit: %s", rates)
        self._learner.adopt(rates)
        self._quota.set_rates(self._learner.rates)
