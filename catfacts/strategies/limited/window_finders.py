"""One `WindowFinder` per configured limit, so several limits named one at a time keep their
own evidence.

An upstream with several limits may name one at a time: Laravel's single `X-RateLimit-Limit`
names whichever binds now (20 a second, then 60 per 10 s once those run low). One finder for
all starts afresh at every switch ("the upstream's limit changed") and never settles either
window. When several rates are configured, an answer naming one of their limits goes to that
limit's own finder; any other limit (the upstream changed it, or nothing was configured) to one
finder shared by the rest, as before: a limit named once and then another is a change, not
two policies, unless the configuration says so. The quota's questions (when does the window
end, is it certain) are answered by the finder of the limit named last: the one that binds now.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from catfacts.rates import Rate
from catfacts.strategies.limited.windows import Answer, WindowFinder


class WindowFinders:
    """A `WindowFinder` for each configured limit, one for the rest; the last named answers."""

    def __init__(self, told: Iterable[Rate] = (), *, siblings: bool = False) -> None:
        told = tuple(told)
        self._rest = WindowFinder(told, siblings=siblings)
        limits = {rate.limit for rate in told}
        self._own = (
            {limit: WindowFinder(told, siblings=siblings) for limit in limits}
            if len(limits) > 1
            else {}
        )
        self._now = self._rest
        # Our latest answers, to place the window of a limit named late (`_phase`).
        self._recent: deque[Answer] = deque(maxlen=max(limits, default=1))

    def hear(self, answer: Answer) -> None:
        quota = answer.quota
        if quota is not None and quota.limit is not None and len(quota.policies) <= 1:
            self._now = self._own.get(quota.limit, self._rest)
        self._now.hear(answer)
        if self._own and not answer.refused:
            self._recent.append(answer)
            if self._now is not self._rest and not self._now.start_known:
                self._phase(answer)

    def _phase(self, answer: Answer) -> None:
        """A configured limit first named after its window began (Laravel names the one that
        binds): its window is known, its start is not. If our own requests account for every
        hit it counted (as `UpstreamQuota` reads a window spent by us alone), it began by the
        answer to the earliest of them; otherwise nothing is concluded."""
        quota = answer.quota
        if quota is None or quota.limit is None or quota.remaining is None:
            return  # a limit named without its count (or a count we could not read): no clue
        hits = quota.limit - quota.remaining
        ours = sorted(
            (past for past in self._recent if past.answered <= answer.answered),
            key=lambda past: past.sent,
        )[-hits:]
        if 0 < hits == len(ours):
            self._now.began_by(min(past.answered for past in ours))

    def share(self, found: Iterable[Rate]) -> None:
        """Windows other workers found: every finder believes its limit's (`WindowFinder`)."""
        found = tuple(found)
        for finder in (self._rest, *self._own.values()):
            finder.share(found)

    @property
    def window(self) -> float | None:
        return self._now.window

    @property
    def exact(self) -> bool:
        return self._now.exact

    @property
    def certain(self) -> bool:
        return self._now.certain

    @property
    def bounds(self) -> tuple[float, float]:
        return self._now.bounds

    @property
    def searching(self) -> bool:
        return self._now.searching

    @property
    def looking(self) -> bool:
        return self._now.looking

    @property
    def start_known(self) -> bool:
        return self._now.start_known

    def ends_by(self, *, surely: bool = False) -> float | None:
        return self._now.ends_by(surely=surely)


Windows = WindowFinder | WindowFinders  # what the quota reads: one finder, or one per limit
