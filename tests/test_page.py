"""The waterfall page at `/`, in a real browser: Debian's chromium, driven by Playwright.

Playwright's own browser download is never used: `executable_path` points at the system
chromium, which `make test` installs like redis-server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, sync_playwright

from catfacts.emulator.process import EmulatorProcess
from tests.support import StartService

ARTIFACTS = Path(os.environ.get("CATFACTS_TEST_ARTIFACTS", "build/test-artifacts"))
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
REFUSED_COLOUR = "rgb(240, 140, 0)"  # --refused in waterfall.css
OK_COLOUR = "rgb(47, 158, 68)"  # --ok


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary: missing, a failure in CI and a loud skip elsewhere."""
    binary = shutil.which("chromium")
    if binary is None:
        message = "chromium is not installed; `make test` installs Debian's package as root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"BROWSER TESTS SKIPPED: {message}")
    return binary


@pytest.fixture
def browser(chromium: str) -> Iterator[Page]:
    """A fresh headless chromium profile and one page in it."""
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            args=FLAGS,
            headless=True,
            viewport={"width": 1240, "height": 900},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        context.close()
        assert errors == []


def test_the_page_runs_all_three_for_30_and_draws_30_rows_each_with_429s_in_their_colour(
    running_service: StartService, emulator: EmulatorProcess, browser: Page
) -> None:
    # The embedded upstream's 60 ms latency: one by one stays under 20 a second, all at once
    # cannot, and limited has to wait for what all at once spent.
    emulator.control.configure(latency=0.06)
    url, _ = running_service()
    browser.goto(url)
    browser.fill("#n", "30")
    browser.select_option("#strategy", "all")
    browser.click("#run")
    browser.wait_for_selector("body[data-finished]", timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(path=ARTIFACTS / "waterfall-30.png", full_page=True)

    stats = emulator.control.stats()["by_request_id"]
    lanes = browser.locator(".lane")
    assert lanes.evaluate_all("ls => ls.map(l => l.dataset.strategy)") == [
        "one_by_one",
        "all_at_once",
        "limited",
    ]
    for lane in lanes.all():
        served = stats[lane.get_attribute("data-request-id") or ""]
        refused = lane.locator(".bar.refused")
        assert lane.locator(".row").count() == 30
        assert lane.locator(".bar").count() == sum(served.values())
        assert lane.locator(".bar.ok").count() == served.get("200", 0)
        assert refused.count() == served.get("429", 0)
        colours = refused.evaluate_all("bars => bars.map(b => getComputedStyle(b).fill)")
        assert set(colours) <= {REFUSED_COLOUR}
    all_at_once = browser.locator('.lane[data-strategy="all_at_once"]')
    assert all_at_once.locator(".bar.refused").count() >= 10  # 30 at once, 20 a second
    ok = all_at_once.locator(".bar.ok").first.evaluate("b => getComputedStyle(b).fill")
    assert ok == OK_COLOUR
    limited = browser.locator('.lane[data-strategy="limited"]')
    assert limited.get_attribute("data-state") == "done"
    assert "30 / 30" in limited.locator(".stats").inner_text()
    assert "ideal" in limited.locator(".stats").inner_text()


def test_a_long_run_draws_as_it_goes(running_service: StartService, browser: Page) -> None:
    url, _ = running_service()
    browser.goto(url)
    browser.fill("#n", "70")  # 70 at 20 a second: three windows to wait
    browser.select_option("#strategy", "limited")
    browser.click("#run")
    lane = browser.locator('.lane[data-strategy="limited"]')
    browser.wait_for_function(
        """() => {
            const lane = document.querySelector('.lane[data-strategy="limited"]');
            return lane && lane.querySelectorAll('.bar.ok').length >= 20;
        }""",
        timeout=10_000,
    )
    assert lane.get_attribute("data-state") == "running"  # drawn before the call ended
    assert lane.locator(".pending").count() > 0  # the facts still queued, growing with time
    browser.wait_for_selector("body[data-finished]", timeout=30_000)
    assert lane.locator(".bar.ok").count() == 70


def test_a_refused_run_shows_the_services_error(
    running_service: StartService, browser: Page
) -> None:
    url, _ = running_service(CATFACTS_MAX_FACTS="10")
    browser.goto(url)
    browser.fill("#n", "11")
    browser.select_option("#strategy", "limited")
    browser.evaluate("document.getElementById('n').removeAttribute('max')")
    browser.click("#run")
    browser.wait_for_selector("body[data-finished]", timeout=30_000)
    failure = browser.locator('.lane[data-strategy="limited"] .failure')
    assert "n must be at most 10" in failure.inner_text()


def test_the_page_says_the_limit_it_runs_against(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    assert "allows 20 requests a second" in response.text


def test_a_run_of_1000_stays_a_page_of_readable_lanes(
    running_service: StartService, browser: Page
) -> None:
    # All three for 1000 against 20 a second: one by one stops at its first 429, all at once is
    # refused most, and limited (50 s) is stopped once it has drawn some. Every lane has 1000 rows
    # of bars a few pixels tall, scrolling in a box of its own rather than in a 30,000-px page.
    # All at once unbounded: bounded, it may not send 1000 at 20 a second (`overdraft.py`).
    url, _ = running_service(CATFACTS_UNLIMITED_STRATEGIES="open")
    browser.goto(url)
    browser.fill("#n", "1000")
    browser.select_option("#strategy", "all")
    browser.click("#run")
    browser.wait_for_selector(
        '.lane[data-strategy="limited"][data-state="running"] .bar.ok', timeout=30_000
    )
    browser.click("#stop")
    browser.wait_for_selector("body[data-finished]", timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(path=ARTIFACTS / "waterfall-1000.png", full_page=True)

    assert browser.evaluate("document.documentElement.scrollHeight") < 3000
    lanes = browser.locator(".lane")
    assert lanes.count() == 3
    for lane in lanes.all():
        assert lane.locator(".row").count() == 1000
        stats = lane.locator(".stats")
        assert stats.is_visible()
        assert " / 1000" in stats.inner_text()
        rows = lane.locator(".rows")
        assert rows.evaluate("r => r.scrollHeight > r.clientHeight")  # the rows scroll, in a
        assert rows.evaluate("r => r.clientHeight") <= 440  # box of one screen at most
        assert rows.get_attribute("tabindex") == "0"  # that the keyboard can scroll
        bar = lane.locator(".bar").first.bounding_box()
        assert bar is not None and bar["height"] >= 3  # not 0.4-px rows squeezed together
    all_at_once = browser.locator('.lane[data-strategy="all_at_once"]')
    assert all_at_once.locator(".bar.refused").count() > 900
