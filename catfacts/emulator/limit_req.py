"""nginx's `limit_req` in front of the API: a leaky bucket per client, as the `proxy` dialect runs.

Many APIs sit behind an nginx that limits requests before the application sees them, and says
nothing about it until it refuses. The algorithm is ngx_http_limit_req_module's, integer for
integer, so a client can be tested against its exact edges; the clock is injected for that.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from catfacts.emulator.throttle import Clock
from catfacts.rates import Rate

# nginx counts requests in thousandths, so a rate of 20 r/s leaks 20 requests in 1000 ms exactly.
MILLI = 1000


def milli_rate(rate: Rate) -> int:
    """The rate in thousandths of a request per second, truncated as nginx's `rate * 1000 / scale`.

    nginx only knows r/s and r/m; any other window is read the same way. At least 1, since a
    bucket that never leaks would refuse a client forever after its burst.
    """
    return max(1, math.floor(rate.limit * MILLI / rate.window))


@dataclass(frozen=True, slots=True)
class _Bucket:
    excess: int  # thousandths of a request waiting in the bucket
    last: int  # milliseconds, on the clock, of the last accepted request


class LeakyBucketThrottle:
    """A leaky bucket per key and rate, as nginx's `limit_req zone=... burst=B nodelay`.

    For each rate, with `last` and `excess` kept per key, a request at `now` (whole milliseconds)
    computes `excess = max(prev_excess - rate * |now - last| / 1000 + 1000, 0)`, all integers,
    with `rate` in thousandths of a request per second; a key never seen has an excess of 0. The
    request is refused if `excess > burst * 1000`. As nginx does with several `limit_req` lines,
    a request passes only if every bucket accepts it; then every bucket stores its excess and
    `last = now`, and a refused request changes no bucket.

    Accepted requests are answered at once (`nodelay`): nginx without it would hold those beyond
    the rate back for a while, but the same ones pass and the same ones are refused.

    Memory: a key whose buckets have all leaked enough that its next request would find an excess
    of 0 is the same as a key never seen, so it is forgotten (nginx too lets such nodes go). Keys
    are kept in the order of their last accepted request; each request first drops the oldest
    while they are drained. A bucket holds at most `burst` + 1 requests, so every key idle longer
    than it takes the slowest rate to leak that many is drained: only recent clients are kept.
    """

    def __init__(
        self, rates: Sequence[Rate], *, burst: int = 0, clock: Clock = time.monotonic
    ) -> None:
        if not rates or burst < 0:
            raise ValueError("a leaky bucket needs at least one rate and a burst >= 0")
        self._milli_rates = tuple(milli_rate(rate) for rate in rates)
        self._burst = burst * MILLI
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[_Bucket, ...]] = OrderedDict()

    def hit(self, key: str) -> bool:
        """Whether a request from `key` passes now; only a passing one fills the buckets."""
        now = _milliseconds(self._clock())
        self._forget_drained(now)
        stored = self._buckets.get(key)
        excesses = [
            _excess(None if stored is None else stored[index], rate, now)
            for index, rate in enumerate(self._milli_rates)
        ]
        if any(excess > self._burst for excess in excesses):
            return False
        self._buckets[key] = tuple(_Bucket(excess, now) for excess in excesses)
        self._buckets.move_to_end(key)
        return True

    def reset(self) -> None:
        """Empty every bucket, as if no client had ever been seen."""
        self._buckets.clear()

    def __len__(self) -> int:
        """How many keys have buckets kept."""
        return len(self._buckets)

    def _forget_drained(self, now: int) -> None:
        """Drop the least recently accepted keys while every bucket of theirs is drained.

        Drained: `_excess` at `now` is 0, as for a key never seen, and stays 0 as time goes on. A
        clock gone backwards drains nothing, so nothing is dropped then.
        """
        buckets = self._buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if not all(
                now >= bucket.last and rate * (now - bucket.last) // MILLI >= bucket.excess + MILLI
                for bucket, rate in zip(oldest, self._milli_rates, strict=True)
            ):
                return
            buckets.popitem(last=False)


def _excess(bucket: _Bucket | None, rate: int, now: int) -> int:
    """The bucket's excess with this request in it, as ngx_http_limit_req_lookup computes it."""
    if bucket is None:
        return 0
    leaked = rate * abs(now - bucket.last) // MILLI
    return max(bucket.excess - leaked + MILLI, 0)


def _milliseconds(seconds: float) -> int:
    """Whole milliseconds, truncated as nginx's `sec * 1000 + usec / 1000`.

    Rounding to whole microseconds first keeps a time such as 0.049 s, which is 48.99999... ms in
    binary floating point, at the 49 ms it means.
    """
    return round(seconds * 1_000_000) // MILLI
