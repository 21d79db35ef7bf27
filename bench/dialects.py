"""Each rate-limit dialect, with the rate configured and learned (`auto`): makespan and 429s."""

from __future__ import annotations

import asyncio

from bench.harness import emulator, median, print_table, service
from bench.limited import JITTER, LATENCY, LIMIT, RATE, ideal, makespan, round_trip

FACTS = 100
# Laravel's answers and a bare upstream announce no window: `auto` assumes a cautious minute there,
# which is right for the real Cat Facts API but no figure to compare with a 1 s window.
CASES = [
    ("laravel", RATE),
    ("github", RATE),
    ("ietf", RATE),
    ("none", RATE),
    ("github", "auto"),
    ("ietf", "auto"),
]


def main() -> None:
    rows = []
    with emulator(RATE, LATENCY, JITTER) as upstream:
        for dialect, configured in CASES:
            upstream.configure(dialect=dialect)
            with service(upstream, configured) as svc:
                rtt = asyncio.run(round_trip(svc))
                asyncio.run(makespan(svc, 1, 1))  # the first call probes, and with auto learns
                runs = [asyncio.run(makespan(svc, 1, FACTS)) for _ in range(3)]
            wall, best = median([run[0] for run in runs]), ideal(FACTS, rtt)
            rows.append(
                [
                    dialect,
                    configured,
                    f"{wall:.3f}",
                    f"{best:.3f}",
                    f"{(wall / best - 1) * 100:+.1f}%",
                    f"{sum(run[1] for run in runs)}/3",
                    sum(run[2] for run in runs),
                ]
            )
    print_table(
        f"Limited, {FACTS} facts, by rate-limit dialect (emulator: {RATE}, L = {LIMIT}, "
        f"{LATENCY * 1000:.0f}±{JITTER * 1000:.0f} ms)",
        ["dialect", "CATFACTS_RATE_LIMIT", "makespan s", "ideal s", "over ideal", "exact", "429s"],
        rows,
    )
