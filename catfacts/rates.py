"""Rate limits as values: one `Rate` ("20/second"), and `Rates`, every limit that binds at once.

An upstream may enforce several limits together (20 a second and 1000 an hour); each binds, so a
request may go only when every one of them has room. When an upstream announces nothing, what is
learned is a pace instead: requests per second, evenly spaced, never a burst.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import limits

_NOTATION = "a rate like '100/minute', '20/second;1000/hour' or '30 per 2 seconds'"


@dataclass(frozen=True)
class Rate:
    """At most `limit` requests in any interval of `window` seconds; `guess` when the window
    is a learner's tentative one, not yet bounded by what the upstream said or did."""

    limit: int
    window: float
    text: str = field(default="", compare=False)
    guess: bool = field(default=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Rate:
        """One rate in the notation of the `limits` package: "20/second", "30 per 2 seconds"."""
        rates = Rates.parse(text)
        if len(rates.policies) != 1:
            raise ValueError(f"not one rate like '100/minute': {text!r}")
        return rates.policies[0]

    @property
    def per_second(self) -> float:
        return self.limit / self.window

    @property
    def notation(self) -> str:
        """In the notation `parse` reads: as configured, or "20 per 10 seconds" when learned."""
        return self.text or f"{self.limit} per {self.window:g} seconds"

    def __str__(self) -> str:
        return self.text or f"{self.limit} requests per {self.window:g} s"


@dataclass(frozen=True)
class Rates:
    """Every limit in force: each policy binds, and so does `pace` (requests a second) if set."""

    policies: tuple[Rate, ...] = ()
    pace: float | None = None

    @classmethod
    def parse(cls, text: str) -> Rates:
        """Several rates in the `limits` notation, separated by ';' or ','."""
        try:
            items = limits.parse_many(text)
        except ValueError:
            items = []
        if not items:
            raise ValueError(f"not {_NOTATION}")
        if any(item.amount < 1 for item in items):
            raise ValueError("a limit must allow at least one request")
        parts = [part.strip() for part in text.replace(",", ";").split(";")]
        policies = tuple(
            Rate(item.amount, float(item.get_expiry()), part)
            for item, part in zip(items, parts, strict=False)
        )
        return cls(policies)

    @property
    def tightest(self) -> Rate | None:
        """The policy that allows the fewest requests a second (the longest window on a tie)."""
        return min(self.policies, key=lambda rate: (rate.per_second, -rate.window), default=None)

    @property
    def longest_window(self) -> float:
        return max((rate.window for rate in self.policies), default=0.0)

    def and_(self, other: Rates) -> Rates:
        """Both sets of limits at once: every policy of either, and the slower pace."""
        paces = [pace for pace in (self.pace, other.pace) if pace is not None]
        return Rates(_distinct(self.policies + other.policies), min(paces, default=None))

    def encode(self) -> str:
        """A compact text for Redis: "L:Wms,L:Wms?|pace" (pace in requests a second, or empty;
        `?` marks a guessed window)."""
        policies = ",".join(
            f"{r.limit}:{round(r.window * 1000)}{'?' if r.guess else ''}" for r in self.policies
        )
        return f"{policies}|{'' if self.pace is None else repr(self.pace)}"

    @classmethod
    def decode(cls, text: str) -> Rates:
        """The inverse of `encode`."""
        policies, _, pace = text.partition("|")
        rates = tuple(
            Rate(int(limit), int(ms.rstrip("?")) / 1000, guess=ms.endswith("?"))
            for limit, ms in (item.split(":") for item in policies.split(",") if item)
        )
        return cls(rates, float(pace) if pace else None)

    @property
    def text(self) -> str:
        """The policies in the notation `parse` reads: "20/second;1000/hour"."""
        return ";".join(rate.notation for rate in self.policies)

    def __str__(self) -> str:
        parts = [str(rate) for rate in self.policies]
        if self.pace is not None:
            parts.append(f"{self.pace:.3g} a second, evenly spaced")
        return "; ".join(parts) or "no limit"


def _distinct(policies: tuple[Rate, ...]) -> tuple[Rate, ...]:
    """One policy per window (the lowest limit), shortest window first, leaving out any that
    another makes redundant: at most as many in a window at least as long."""
    by_window: dict[float, Rate] = {}
    for rate in policies:
        kept = by_window.get(rate.window)
        if kept is None or rate.limit < kept.limit:
            by_window[rate.window] = rate
    ordered = sorted(by_window.values(), key=lambda rate: rate.window)
    return tuple(
        rate
        for rate in ordered
        if not any(o.window >= rate.window and o.limit <= rate.limit and o != rate for o in ordered)
    )
