"""The pages anyone can use: axe-core finds nothing on `/` and `/docs`, before, during and after a
run (the budget strip idle and busy), and the keyboard alone starts and stops a run.

axe-core runs inside Debian's chromium, driven by Playwright as in `test_page.py`; its script is
the axe.min.js that the pinned axe-playwright-python package ships (requirements-dev.txt), read
from the installed package and injected into the page: nothing is fetched at run time.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
from playwright.sync_api import Page, Response

from catfacts.emulator.process import EmulatorProcess
from tests.support import StartService
from tests.test_page import browser, chromium  # noqa: F401  (fixtures: one browser for both)

AXE = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
# Every rule axe-core has that applies, best practices (landmarks, one main, one h1) included.
OPTIONS = {"resultTypes": ["violations"]}


def violations(page: Page) -> list[str]:
    """axe-core's violations on the page as it stands, one line per rule and node."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE)
    found: list[dict[str, Any]] = page.evaluate(
        "options => axe.run(document, options).then(r => r.violations)", OPTIONS
    )
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')}"
        for v in found
        for node in v["nodes"]
    ]


@pytest.fixture
def failed_answers(browser: Page) -> list[str]:  # noqa: F811
    """Every answer of 400 or more that the page gets (a missing favicon would be one)."""
    failed: list[str] = []

    def seen(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    browser.on("response", seen)
    return failed


def test_the_page_has_no_violation_before_or_after_a_run(
    running_service: StartService,
    emulator: EmulatorProcess,
    browser: Page,  # noqa: F811
    failed_answers: list[str],
) -> None:
    url, _ = running_service()
    browser.goto(url)
    assert browser.evaluate("document.documentElement.lang") == "en"
    assert violations(browser) == []
    browser.fill("#n", "5")
    browser.select_option("#strategy", "all")
    browser.click("#run")
    browser.wait_for_selector(".lane .notice.counting", timeout=30_000)
    assert violations(browser) == []  # while it counts down the wait for the window
    browser.wait_for_selector('#budget[data-state="busy"]', timeout=30_000)
    assert violations(browser) == []  # the budget strip, with calls in flight or slots in use
    browser.wait_for_selector("body[data-finished]", timeout=60_000)
    assert browser.locator(".lane").count() == 3
    assert browser.locator(".lane .bar.ok").count() > 0  # green counts and bars are drawn
    assert violations(browser) == []
    assert failed_answers == []


def test_the_docs_page_has_no_violation(
    running_service: StartService,
    browser: Page,  # noqa: F811
    failed_answers: list[str],
) -> None:
    url, _ = running_service()
    browser.goto(f"{url}/docs")
    assert browser.evaluate("document.documentElement.lang") == "en"
    assert browser.locator("main").count() == 1
    assert violations(browser) == []
    assert failed_answers == []


def tab_to(page: Page, element_id: str, most: int = 20) -> None:
    """Press Tab until the element has the focus, as a keyboard user would."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == (
            element_id
        ):
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def run_by_keyboard(page: Page, n: int) -> None:
    """Type n and press Run, with the keyboard alone."""
    tab_to(page, "n")
    page.keyboard.press("Control+A")
    page.keyboard.type(str(n))
    tab_to(page, "run")
    page.keyboard.press("Enter")


def focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def test_the_keyboard_alone_starts_a_run(
    running_service: StartService,
    browser: Page,  # noqa: F811
) -> None:
    url, _ = running_service()
    browser.goto(url)
    run_by_keyboard(browser, 5)
    browser.wait_for_selector("body[data-finished]", timeout=60_000)
    lanes = browser.locator(".lane")
    assert lanes.count() == 3  # "all three", the default
    for lane in lanes.all():
        assert lane.locator(".row").count() == 5
        assert lane.locator(".bar").count() >= 1
    assert browser.locator('.lane[data-strategy="limited"] .bar.ok').count() == 5
    assert focused(browser) == "run"  # ready for the next run


def test_the_keyboard_alone_stops_a_run(
    running_service: StartService,
    browser: Page,  # noqa: F811
) -> None:
    url, _ = running_service()
    browser.goto(url)
    tab_to(browser, "n")
    browser.keyboard.press("Control+A")
    browser.keyboard.type("200")  # limited, at 20 a second: ten seconds
    tab_to(browser, "strategy")
    browser.keyboard.press("End")  # the last option: limited
    assert browser.input_value("#strategy") == "limited"
    tab_to(browser, "run")
    browser.keyboard.press("Space")
    lane = browser.locator('.lane[data-strategy="limited"]')
    browser.wait_for_selector('.lane[data-state="running"] .bar.ok', timeout=10_000)
    assert focused(browser) == "stop"  # the focus follows the control that can act now
    browser.keyboard.press("Space")
    browser.wait_for_selector("body[data-finished]", timeout=10_000)
    assert lane.get_attribute("data-state") == "failed"
    assert "stopped" in lane.locator(".failure").inner_text()
    assert lane.locator(".bar.ok").count() < 200
    assert focused(browser) == "run"


def test_the_keyboard_alone_stops_all_three_while_they_wait_for_the_window(
    running_service: StartService,
    emulator: EmulatorProcess,
    browser: Page,  # noqa: F811
) -> None:
    url, _ = running_service()
    browser.goto(url)
    run_by_keyboard(browser, 5)  # "all three", the default
    browser.wait_for_selector('.lane[data-strategy="all_at_once"] .notice.counting')
    assert focused(browser) == "stop"
    browser.keyboard.press("Space")
    browser.wait_for_selector("body[data-finished]", timeout=10_000)
    states = browser.locator(".lane").evaluate_all("ls => ls.map(l => l.dataset.state)")
    assert states == ["done", "failed", "failed"]
    for key in ("all_at_once", "limited"):
        assert browser.locator(f'.lane[data-strategy="{key}"] .failure').inner_text() == (
            "not run: stopped"
        )
    assert len(emulator.control.arrivals()) == 5  # one by one's, and nothing after the stop
    assert focused(browser) == "run"
