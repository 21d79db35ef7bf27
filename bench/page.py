"""The page in Chromium: "All three" for 30 facts at 20 a second, each strategy on a full budget
and against its own ideal (issue 17, item 1), and the limited lane's first ETA against its end.

The driver is shared with the page's test (tests/test_page.py), which asserts what it must
(exact counts, no 429 for limited, the wait shown, each ideal from its own model) and takes the
README's pictures; this section prints how long each strategy took against its ideal, the figure a
test must not assert. Debian's chromium, through Playwright, as in the tests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench.harness import emulator, print_table, service

RATE, LATENCY, N, RUNS = "20/second", 0.06, 30, 3
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What each lane says once its call is over: its counts, and its times against its own ideal.
LANE_FIGURES = """lanes => lanes.map(lane => ({
    strategy: lane.dataset.strategy,
    state: lane.dataset.state,
    request_id: lane.dataset.requestId,
    returned: Number(lane.dataset.returned),
    total_ms: Number(lane.dataset.totalMs),
    ideal_ms: Number(lane.dataset.idealMs),
    round_trip_ms: Number(lane.dataset.roundTripMs),
    refill_ms: Number(lane.dataset.refillMs || 0),
    eta_first_ms: lane.dataset.etaFirstMs == null ? null : Number(lane.dataset.etaFirstMs),
    refused: lane.querySelectorAll(".bar.refused").length,
    stats: lane.querySelector(".stats").innerText,
    notice: lane.querySelector(".notice").innerText,
}))"""


@contextmanager
def browser(chromium: str, profile: str) -> Iterator[Page]:
    """One page of a headless chromium with a fresh profile, 1240 px wide."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            args=FLAGS,
            headless=True,
            viewport={"width": 1240, "height": 900},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


@dataclass
class AllThree:
    """What the page showed of one "all three" run."""

    lanes: list[dict[str, Any]]  # LANE_FIGURES of each lane, in the page's order
    waiting: str  # the first notice of a wait for the upstream's window, as it counted down


def run_all_three(page: Page, url: str, n: int, pictures: Path | None = None) -> AllThree:
    """Run "all three" for `n` on the page at `url`, and read what it shows.

    With `pictures`, saves the page while it waits for the upstream's window
    (`waterfall-waiting.png`) and once every call is over (`waterfall.png`).
    """
    page.goto(url)
    page.fill("#n", str(n))
    page.select_option("#strategy", "all")
    page.click("#run")
    notice = page.wait_for_selector(".lane .notice.counting", timeout=30_000)
    waiting = notice.inner_text() if notice is not None else ""
    if pictures is not None:
        pictures.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=pictures / "waterfall-waiting.png", full_page=True)
    page.wait_for_selector("body[data-finished]", timeout=60_000)
    if pictures is not None:
        page.screenshot(path=pictures / "waterfall.png", full_page=True)
    return AllThree(page.locator(".lane").evaluate_all(LANE_FIGURES), waiting)


def row(lane: dict[str, Any]) -> list[str]:
    return [
        lane["strategy"],
        f"{lane['returned']}/{N}",
        str(lane["refused"]),
        f"{lane['refill_ms'] / 1000:.2f}",
        f"{lane['total_ms'] / 1000:.2f}",
        f"{lane['ideal_ms'] / 1000:.2f}",
        f"{lane['total_ms'] / lane['ideal_ms']:.2f}x",
        eta_error(lane),
    ]


def eta_error(lane: dict[str, Any]) -> str:
    """The lane's first ETA (the door's, `X-Facts-Estimate`) against the actual end; "-" where
    the strategy gives none (only the limited one does)."""
    first = lane["eta_first_ms"]
    if first is None:
        return "-"
    return f"{first / 1000:.2f} ({(first - lane['total_ms']) / lane['total_ms']:+.0%})"


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("bench page: chromium is not installed (make chromium installs it)")
    rows = []
    with emulator(RATE, LATENCY) as upstream, service(upstream, RATE) as svc:
        for _ in range(RUNS):
            with tempfile.TemporaryDirectory() as profile, browser(chromium, profile) as page:
                rows += [row(lane) for lane in run_all_three(page, svc.url, N).lanes]
    print_table(
        f'The page, "all three" for {N} in Chromium (emulator: {RATE}, '
        f"{LATENCY * 1000:.0f} ms; {RUNS} runs, each strategy on a full budget)",
        [
            "strategy",
            "facts",
            "429s",
            "waited s",
            "total s",
            "own ideal s",
            "total / ideal",
            "first ETA s (error)",
        ],
        rows,
    )
