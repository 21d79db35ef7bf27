"""How far all at once may overdraw the shared budget: by at most one window's limit.

All at once takes no slot, so nothing else bounds it: three `/cat_async/1000` from anyone sent
3,000 requests at a limit of 100 a minute, 2,980 of them refused, a ban risked. Yet its point is
to show what a burst past the limit costs, so it must still be let past the limit. The bound:
a call for n is let in only while, for every limit L per W in force, the requests that count in
the limiter (every slot in flight or answered within W, and earlier all-at-once calls) plus n
stay within 2L; its n requests are then counted as answered at the latest time their answers can
come, and from when they came once the call ends (`settle`). So in any window all at once sends
at most one window's limit over the budget, and a call for more than 2L is never let in.

At 20 a second an all-at-once call of 30 runs, and loses to 429s what the upstream refuses (the
page's side-by-side); a second one in the same second is refused at once, as is a call for 1000
at 100 a minute. Its requests also count for the limited strategy, which waits for them. One by
one needs no bound: one request at a time, it stops at the first refusal.
"""

from __future__ import annotations

import math
import uuid

from catfacts.errors import BadRequest, ServiceUnavailable
from catfacts.limiter import Limiter
from catfacts.observe import metrics
from catfacts.rates import Rate, Rates
from catfacts.settings import CAUTIOUS_RATE
from catfacts.strategies.base import Order
from catfacts.strategies.table import ALL_AT_ONCE, LIMITED

OVERDRAFT = 2  # the most, as a multiple of each limit, that may count once a call is let in


class Overdraft:
    """Lets an all-at-once call in, and counts its requests, while the budget allows (above)."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter
        self._me = uuid.uuid4().hex[:12]  # charges' ids: unique across processes sharing Redis

    def allowance(self) -> Rates:
        """Each limit in force, doubled; with no window known (`auto` before any answer, or only
        a pace found from refusals), the cautious 60 a minute's: all at once reads no headers, so
        a bound from its own pace would never grow (1 a second, as `auto` starts, forever)."""
        policies = self._limiter.rates.policies or (CAUTIOUS_RATE,)
        return Rates(tuple(Rate(OVERDRAFT * r.limit, r.window, r.text) for r in policies))

    async def admit(self, order: Order, within: float) -> None:
        """Count the call's n requests as answered `within` seconds from now at the latest, or
        refuse the call: 400 if n can never fit, else 503 with Retry-After; both name the limited
        strategy, which fetches any n."""
        n = order.n
        if n == 0:
            return
        allowance = self.allowance()
        limited = f"{LIMITED.path}/{n}"
        too_many = [rate for rate in allowance.policies if n > rate.limit]
        if too_many:
            metrics.refused("overdraft")
            raise BadRequest(
                f"{ALL_AT_ONCE.path}/{n} asks for more than all at once may send: at most "
                f"{too_many[0].limit} per {too_many[0].window:g} s, twice the limit in force; "
                f"{limited} fetches all {n}"
            )
        wait = await self._limiter.charge(self._id(order), n, allowance, within)
        if wait is not None:
            metrics.refused("overdraft")
            retry_after = max(math.ceil(wait.seconds), 1)
            raise ServiceUnavailable(
                f"{ALL_AT_ONCE.path}/{n} would overdraw the upstream's budget by more than its "
                f"limit: retry after {retry_after} s, or use {limited}, which waits for room",
                retry_after=retry_after,
            )

    async def settle(self, order: Order) -> None:
        """The call's answers are in: its requests count from now, not from the latest time."""
        if order.n:
            await self._limiter.settle(self._id(order), order.n)

    def _id(self, order: Order) -> str:
        """The same for the admission and the end of one call, and for no other call."""
        return f"burst:{self._me}:{id(order):x}:{order.timeline.start}"
