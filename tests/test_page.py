"""The waterfall page at `/`, in a real browser: Debian's chromium, driven by Playwright.

Playwright's own browser download is never used: `executable_path` points at the system
chromium, which `make test` installs like redis-server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urllib3
from flask.testing import FlaskClient
from playwright.sync_api import Page

from bench.page import AllThree, run_all_three
from bench.page import browser as open_page
from catfacts.emulator.process import EmulatorProcess
from tests.support import StartService

ARTIFACTS = Path(os.environ.get("CATFACTS_TEST_ARTIFACTS", "build/test-artifacts"))
# The README's pictures: `make pictures` runs the "all three" test with this set to docs/.
PICTURES = Path(os.environ.get("CATFACTS_PICTURES", ARTIFACTS))
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
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as profile, open_page(chromium, profile) as page:
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
    assert errors == []


def test_all_three_for_30_each_on_a_full_budget_against_its_own_ideal(
    running_service: StartService, emulator: EmulatorProcess, browser: Page
) -> None:
    # The embedded upstream's 60 ms latency: one by one stays under 20 a second (its cost is
    # time), all at once cannot (its cost is facts), and limited is exact. One run, three checks.
    emulator.control.configure(latency=0.06)
    url, _ = running_service()
    shown = run_all_three(browser, url, 30, PICTURES)

    assert [lane["strategy"] for lane in shown.lanes] == ["one_by_one", "all_at_once", "limited"]
    exact_for_limited_and_lost_to_429s_for_all_at_once(browser, emulator, shown)
    each_waited_for_the_window_and_said_so(emulator, shown)
    each_against_its_own_ideal(browser, shown)


def exact_for_limited_and_lost_to_429s_for_all_at_once(
    browser: Page, emulator: EmulatorProcess, shown: AllThree
) -> None:
    """The counts the upstream saw, the counts each lane says, and a bar for every request."""
    stats = emulator.control.stats()["by_request_id"]
    lanes = {lane["strategy"]: lane for lane in shown.lanes}
    assert stats[lanes["limited"]["request_id"]] == {"200": 30}  # exact, never refused
    assert lanes["limited"]["returned"] == 30
    assert stats[lanes["one_by_one"]["request_id"]] == {"200": 30}
    assert stats[lanes["all_at_once"]["request_id"]] == {"200": 20, "429": 10}
    assert lanes["all_at_once"]["returned"] == 20
    assert "(10 lost)" in lanes["all_at_once"]["stats"]
    for lane in browser.locator(".lane").all():
        served = stats[lane.get_attribute("data-request-id") or ""]
        refused = lane.locator(".bar.refused")
        assert lane.get_attribute("data-state") == "done"
        assert lane.locator(".row").count() == 30
        assert lane.locator(".bar").count() == sum(served.values())
        assert lane.locator(".bar.ok").count() == served.get("200", 0)
        assert refused.count() == served.get("429", 0)
        colours = refused.evaluate_all("bars => bars.map(b => getComputedStyle(b).fill)")
        assert set(colours) <= {REFUSED_COLOUR}
    ok = browser.locator('.lane[data-strategy="all_at_once"] .bar.ok').first
    assert ok.evaluate("b => getComputedStyle(b).fill") == OK_COLOUR


def each_waited_for_the_window_and_said_so(emulator: EmulatorProcess, shown: AllThree) -> None:
    """A countdown while the page waits, a line after; the upstream saw a window between."""
    # How long is measured (a window after the calls before, less what already passed): the
    # upstream's own log below judges it; the notice must say it waits, for how long, and why.
    assert re.match(
        r"waiting [0-9]+\.[0-9] s for the upstream's window to refill so each strategy starts on "
        "a full budget",
        shown.waiting,
    ), shown.waiting
    first, *later = shown.lanes
    assert first["refill_ms"] == 0 and first["notice"] == ""  # a fresh page spent nothing yet
    for lane in later:
        assert lane["refill_ms"] > 0
        assert re.fullmatch(
            r"started on a full budget, after waiting \d\.\d s for the upstream's window to refill",
            lane["notice"],
        )
    # Each strategy's requests reach the upstream a whole window after the last one's: none
    # starts on a window that another spent. 30 a strategy, in the page's order.
    arrivals = [at for at, _ in emulator.control.arrivals()]
    assert len(arrivals) == 90
    for previous_last, next_first in ((arrivals[29], arrivals[30]), (arrivals[59], arrivals[60])):
        assert next_first - previous_last >= 1.0


def each_against_its_own_ideal(browser: Page, shown: AllThree) -> None:
    """Each ideal from its strategy's model and its call's own median round trip, on one axis."""
    models: dict[str, tuple[Callable[[float], float], str]] = {  # n = 30 at 20 a second
        "one_by_one": (lambda rtt: 30 * rtt, "30 round trips"),
        "all_at_once": (lambda rtt: rtt, "one round trip"),
        "limited": (lambda rtt: 1000 + rtt, "1 window + one round trip"),
    }
    for lane in shown.lanes:
        ideal, model = models[lane["strategy"]]
        assert lane["ideal_ms"] == pytest.approx(ideal(lane["round_trip_ms"]))
        assert f"= {model}" in lane["stats"]
    drawn = browser.locator(".lane").evaluate_all(
        "ls => ls.map(l => Number(l.querySelector('.marker.ideal line').getAttribute('x1')))"
    )
    widths = browser.locator(".lane svg.plot").evaluate_all(
        "svgs => svgs.map(s => Number(s.getAttribute('width')))"
    )
    assert len(set(widths)) == 1  # one axis for all: a pixel is the same time in every lane
    ideals = [lane["ideal_ms"] for lane in shown.lanes]
    assert sorted(range(3), key=drawn.__getitem__) == sorted(range(3), key=ideals.__getitem__)


def test_a_long_run_draws_as_it_goes_with_its_eta(
    running_service: StartService, browser: Page
) -> None:
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
    # Where the call is expected to end, on the lane's time axis, labelled, while it runs.
    eta = lane.locator("svg.head .marker.eta text")
    assert re.fullmatch(r"ETA \d+\.\d s", eta.text_content() or "")
    assert lane.locator("svg.plot .marker.eta").count() == 1  # its line through the rows
    assert "ends in ~" in lane.locator(".stats").inner_text()
    browser.wait_for_selector("body[data-finished]", timeout=30_000)
    assert lane.locator(".bar.ok").count() == 70
    total = float(lane.get_attribute("data-total-ms") or "nan")
    first = float(lane.get_attribute("data-eta-first-ms") or "nan")  # X-Facts-Estimate's
    last = float(lane.get_attribute("data-eta-ms") or "nan")  # the last line's before the end
    # A generous bound, for a loaded machine: the 20% goal is `make bench`'s to measure.
    assert 0.5 * total <= first <= 1.5 * total
    assert 0.5 * total <= last <= 1.5 * total
    assert eta.text_content() == f"ETA {first / 1000:.1f} s"  # after the call: the door's estimate
    assert "ETA at the start" in lane.locator(".stats").inner_text()


def call_from(address: str, url: str) -> tuple[threading.Thread, list[int]]:
    """A call of another client's, from `address`, in a thread; its facts' count once it ends."""
    returned: list[int] = []

    def call() -> None:
        pool = urllib3.PoolManager(source_address=(address, 0))
        answer = pool.request("GET", url, headers={"Accept": "application/json"}, timeout=30)
        returned.append(len(json.loads(answer.data)) if answer.status == 200 else -1)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, returned


def test_the_budget_strip_shows_another_callers_call(
    running_service: StartService, browser: Page
) -> None:
    url, _ = running_service()
    browser.goto(url)
    strip = browser.locator("#budget")
    browser.wait_for_selector('#budget[data-state="idle"]', timeout=10_000)
    assert strip.locator('[data-field="rate"]').inner_text() == "20 a second, configured"
    assert strip.get_attribute("data-calls") == "0"
    # 80 facts at 20 a second from another address: four seconds in flight, the page idle.
    thread, returned = call_from("127.0.0.2", f"{url}/cat_async_limited/80")
    browser.wait_for_selector('#budget[data-clients~="127.0.0.2"]', timeout=10_000)
    assert strip.get_attribute("data-calls") == "1"
    assert strip.get_attribute("data-state") == "busy"
    assert "127.0.0.2: 1 call" in strip.locator('[data-field="calls"]').inner_text()
    assert re.fullmatch(
        r"\d+ of 20(, \d+ in flight)?", strip.locator('[data-field="slots"]').inner_text()
    )
    assert strip.locator(".wait-label").inner_text() == "a call of 30 now"
    assert float(strip.get_attribute("data-wait-ms") or 0) > 0
    # No number is read out as it moves: one polite word on a change of state, and no more.
    assert strip.locator("[aria-live]").count() == 0
    assert strip.locator('[role="status"]').inner_text() == (
        "The budget is in use: calls are in flight."
    )
    thread.join(timeout=30)
    assert returned == [80]
    browser.wait_for_selector('#budget[data-calls="0"]', timeout=10_000)


def test_the_page_waits_for_another_callers_spending_before_its_limited_call(
    running_service: StartService, emulator: EmulatorProcess, browser: Page
) -> None:
    # Another client spends the whole window just before; the page, which spent nothing itself,
    # learns it from GET /budget (the limiter's slots) and starts only on a full budget.
    url, _ = running_service()
    browser.goto(url)
    browser.fill("#n", "20")
    browser.select_option("#strategy", "limited")
    thread, returned = call_from("127.0.0.2", f"{url}/cat_async_limited/20")
    thread.join(timeout=30)
    assert returned == [20]
    browser.click("#run")
    browser.wait_for_selector("body[data-finished]", timeout=30_000)
    lane = browser.locator('.lane[data-strategy="limited"]')
    assert lane.get_attribute("data-returned") == "20"
    assert int(lane.get_attribute("data-refill-ms") or 0) > 0
    assert (
        lane.locator(".notice").inner_text().startswith("started on a full budget, after waiting")
    )
    assert lane.locator(".waitband").count() == 0  # all 20 went at once: the budget was full
    arrivals = emulator.control.arrivals()
    assert [status for _, status in arrivals] == [200] * 40
    assert arrivals[20][0] - arrivals[19][0] >= 1.0  # a whole window after the other's last


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


def test_the_page_starts_anyway_when_another_caller_keeps_spending(
    running_service: StartService, emulator: EmulatorProcess, browser: Page
) -> None:
    # 100 facts from another address keep the budget busy for five seconds: the page waits two
    # windows for them, then starts and says its strategy shares the budget. Nobody is refused.
    url, _ = running_service()
    browser.goto(url)
    browser.fill("#n", "5")
    browser.select_option("#strategy", "limited")
    thread, returned = call_from("127.0.0.2", f"{url}/cat_async_limited/100")
    browser.wait_for_selector('#budget[data-clients~="127.0.0.2"]', timeout=10_000)
    browser.click("#run")
    browser.wait_for_selector("body[data-finished]", timeout=30_000)
    lane = browser.locator('.lane[data-strategy="limited"]')
    assert lane.get_attribute("data-returned") == "5"
    assert lane.locator(".notice").inner_text().startswith("started after waiting")
    assert "other callers' requests" in lane.locator(".notice").inner_text()
    assert "they still spend the budget" in lane.locator(".notice").inner_text()
    assert int(lane.get_attribute("data-refill-ms") or 0) >= 2000  # two windows of 1 s
    thread.join(timeout=30)
    assert returned == [100]
    assert [status for _, status in emulator.control.arrivals()] == [200] * 105
