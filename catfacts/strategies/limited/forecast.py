"""When a call will end: the one model behind the door's deadline check, every streamed line's
`eta`, the `X-Facts-Estimate` header and `GET /budget`'s `wait`.

Its inputs are what the dispatcher already holds: the requests that go before the call's last one
(`Turns.sent_before`: fair turns between clients, then between a client's calls, with what the
other workers have queued as the last look at the shared budget says), the room the limiter has
now and when a slot frees, what the upstream's word holds back (a reset it announced, a 429's
pause), the rate in force and the round trip. Then `finish_estimate` (`admission`): the credit
goes now, the rest a limit's worth per window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from catfacts.limiter import Limiter, Queued, Survey
from catfacts.strategies.limited.admission import finish_estimate
from catfacts.strategies.limited.calls import Call
from catfacts.strategies.limited.quota import UpstreamQuota
from catfacts.strategies.limited.round_trip import RoundTrip
from catfacts.strategies.limited.surveys import Surveyor
from catfacts.strategies.limited.turns import Turns


@dataclass(frozen=True)
class Outlook:
    """The budget as the estimates see it now: `credit` requests may go after `blocked` seconds
    (now, or when a slot frees, the upstream's window resets or a pause ends), then `limit` per
    `window`; each answer takes `round_trip`."""

    limit: int
    window: float
    credit: int
    blocked: float
    round_trip: float

    def finish(self, ahead: int) -> float:
        """Seconds until the last of `ahead` requests (sent in turn from now) is answered."""
        return finish_estimate(
            ahead,
            credit=self.credit,
            limit=self.limit,
            window=self.window,
            blocked=self.blocked,
            round_trip=self.round_trip,
        )


def outlook(
    now: float, quota: UpstreamQuota, survey: Survey, taken: Sequence[float], round_trip: float
) -> Outlook:
    """What may go when, from the limiter's slots (`survey`, aged to `now`, and the slots this
    process `taken` since, when) and the upstream's last word (`quota`)."""
    limit, window = quota.limit, quota.window
    held = max(quota.waiting_for(now), survey.paused_for)
    if held > 0:
        return Outlook(limit, window, limit, held, round_trip)  # a fresh window after the wait
    room = max(limit - survey.counted, 0)
    if room == 0 and survey.frees_in == 0:
        room = limit  # the look is older than the slots it saw: they have freed since
    room = max(room - len(taken), 0)
    remaining, _ = quota.said(now)
    if remaining is not None:
        room = min(room, max(remaining - quota.in_flight, 0))  # the upstream's count is lower
    if room == 0:
        frees = survey.frees_in  # the oldest slot; ours since the look, a window after answers
        if taken:
            frees = max(frees, taken[0] + round_trip + window - now)
        return Outlook(limit, window, limit, max(frees, round_trip), round_trip)
    # Unsure of the upstream's count, a probe goes first and the rest after its answer.
    return Outlook(limit, window, room, round_trip if quota.probing else 0.0, round_trip)


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

    def reckon(self, call: Call) -> None:
        """The call's estimate, now: 0 once its facts are all back."""
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
        call.estimate.reckon(self.outlook().finish(ahead))

    def reckon_all(self) -> None:
        """A new look at the budget: every call's estimate again."""
        for call in self._turns:
            self.reckon(call)
