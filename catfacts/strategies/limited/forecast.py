"""When a call will end: the one model behind the door's deadline check, every streamed line's
`eta`, the `X-Facts-Estimate` header and `GET /budget`'s `wait`.

Its inputs are what the dispatcher already holds: the requests that go before the call's last one
(`Turns.sent_before`: fair turns between clients, then between a client's calls, with what the
other workers have queued as the last look at the shared budget says), the room the limiter has
now and when a slot frees, what the upstream's word holds back (a reset it announced, a 429's
pause), the rate in force and the round trip. Then `Outlook.finish`: each request on the
soonest free slot, each slot used again a window after its answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from catfacts.limiter import Limiter, Queued, Survey
from catfacts.strategies.limited.calls import Call
from catfacts.strategies.limited.quota import UpstreamQuota
from catfacts.strategies.limited.round_trip import RoundTrip
from catfacts.strategies.limited.surveys import Surveyor
from catfacts.strategies.limited.turns import Turns


@dataclass(frozen=True)
class Outlook:
    """The budget as the estimates see it now: seconds until each of the limit's slots may next
    be used (`lanes`, soonest first); a slot used again frees a `window` after its answer, and
    each answer takes `round_trip`."""

    lanes: tuple[float, ...]
    window: float
    round_trip: float

    def finish(self, ahead: int) -> float:
        """Seconds until the last of `ahead` requests, sent in turn from now, is answered: the
        j-th goes on the j-th soonest slot, and comes round again a window and a round trip
        later."""
        if ahead <= 0:
            return 0.0
        last, slots = ahead - 1, len(self.lanes)
        cycle = self.window + self.round_trip
        return self.lanes[last % slots] + (last // slots) * cycle + self.round_trip


def outlook(
    now: float, quota: UpstreamQuota, survey: Survey, taken: Sequence[float], round_trip: float
) -> Outlook:
    """When each slot may go, from the limiter's (`survey`, aged to `now`, and the slots this
    process `taken` since the look, when) and the upstream's last word (`quota`)."""
    limit, window = quota.limit, quota.window
    busy = sorted(
        [
            *survey.freeing,
            *(at + round_trip + window - now for at in taken),
            *[window + round_trip] * survey.in_flight,
        ]
    )[-limit:]
    free = [0.0] * (limit - len(busy))
    remaining, reset = quota.said(now)
    if remaining is not None and remaining - quota.in_flight < len(free):
        # The upstream says fewer remain: the rest of its window's worth after its reset.
        spare = max(remaining - quota.in_flight, 0)
        free = free[:spare] + [window if reset is None else reset] * (len(free) - spare)
    held_back = min(quota.held(now), free.count(0.0)) if quota.release_at > now else 0
    if held_back:  # left to another client of our address until half its window (`held.py`)
        free = [quota.release_at - now] * held_back + free[held_back:]
    if quota.probing and free:
        free = [0.0] + [round_trip] * (len(free) - 1)  # a probe first, the rest after its answer
    held = max(quota.waiting_for(now), survey.paused_for)  # a reset, or a 429's pause
    lanes = tuple(sorted(max(lane, held, 0.0) for lane in free + busy))
    return Outlook(lanes, window, round_trip)


class Forecast:
    """Estimates for the calls in flight and for a call that may come; keeps the look at the
    shared budget they need (`Surveyor`) while calls are in flight."""

    def __init__(
        self, turns: Turns, quota: UpstreamQuota, round_trip: RoundTrip, limiter: Limiter
    ) -> None:
        self._turns = turns
        self.quota = quota
        self._round_trip = round_trip
        self.surveyor = Surveyor(limiter, turns.queued, self.reckon_all)

    def queued(self) -> Queued:
        """This worker's calls in flight, per client: (calls, requests not sent yet)."""
        return self._turns.queued()

    def outlook(self) -> Outlook:
        now = asyncio.get_running_loop().time()
        surveyor = self.surveyor
        survey = surveyor.aged(now)
        return outlook(now, self.quota, survey, surveyor.taken, self._round_trip.seconds)

    async def new_call(self, client: str, n: int) -> float:
        """Seconds until the last fact of a call for n that `client` would make now."""
        if n == 0:
            return 0.0
        survey = await self.surveyor.look()
        ahead = self._turns.sent_before(client, n, survey.others)
        return self.outlook().finish(ahead)

    def joined(self, call: Call) -> None:
        """A call came in: its estimate now and at each of its facts; the others hear of it."""
        call.on_delivered = self.reckon
        self.reckon(call)
        self.surveyor.changed()

    def reckon(self, call: Call, seen: Outlook | None = None) -> None:
        """The call's estimate, now: 0 once its facts are all back. `seen`: the budget's outlook
        now, if the caller already has it (one for every call of a new look)."""
        if call.estimate is None:
            return
        if call.over or call.fetched >= call.n:
            call.estimate.finished()
            return
        pending = len(call.pending)
        if pending == 0:  # only answers to wait for
            call.estimate.reckon(self._round_trip.seconds)
            return
        others = self.surveyor.latest.others
        ahead = self._turns.sent_before(call.client, pending, others, call)
        call.estimate.reckon((seen or self.outlook()).finish(ahead))

    def reckon_all(self) -> None:
        """A new look at the budget: every call's estimate again, from one outlook (it sorts a
        lane per slot of the limit: once a look, not once a call)."""
        now = self.outlook()
        for call in self._turns:
            self.reckon(call, now)
