"""Every limited call says when it will end: `eta` on each streamed line, `X-Facts-Estimate` on
the answer, from the model admission uses. These tests hold the behaviour (present everywhere,
counting down, 0 at the end); how true the figures come is measured in `bench eta`."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import urllib3
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from catfacts.strategies.estimate import Estimate
from tests.support import AppFactory

STREAM = {"Accept": "application/x-ndjson"}
ESTIMATE = re.compile(r"[0-9]+\.[0-9]{2}")


def streamed(client: FlaskClient, path: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    response = client.get(path, headers=STREAM)
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    return dict(response.headers), lines


def budget(client: FlaskClient, n: int) -> dict[str, Any]:
    answer = client.get(f"/budget?n={n}").json
    assert isinstance(answer, dict)
    return answer


def test_every_line_of_a_streamed_limited_call_has_an_eta_that_counts_down_to_0(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    # The service's own limit binds: an upstream whose fixed window straddles ours may say fewer
    # remain than we expected, and then the estimate rightly rises (that is news, not noise).
    emulator.control.configure(rate_limit="1000/second")
    headers, lines = streamed(client, "/cat_async_limited/45")  # three windows at 20/second
    etas = [line["eta"] for line in lines]
    assert all(isinstance(eta, float) and eta >= 0 for eta in etas)
    # It counts down. A round trip slower than the model knew (a loaded machine: each slot frees a
    # window after its answer) is news too, so the strict count-down is judged with a clock of
    # our own in the last test; here, the second half of the call is nearer its end than the first.
    half = len(etas) // 2
    assert max(etas[half:]) < min(etas[: half // 2]), etas
    assert 1.0 < etas[0] < 4.0  # two windows to wait, at least, and nowhere near ten
    assert "summary" in lines[-1] and etas[-1] == 0.0
    assert etas[-2] == 0.0  # the last fact: nothing left to wait for
    assert ESTIMATE.fullmatch(headers["X-Facts-Estimate"])
    assert float(headers["X-Facts-Estimate"]) >= etas[0]


def test_the_plain_answer_has_the_estimate_it_was_let_in_with(client: FlaskClient) -> None:
    response = client.get("/cat_async_limited/3")
    assert response.status_code == 200
    assert ESTIMATE.fullmatch(response.headers["X-Facts-Estimate"])
    assert float(response.headers["X-Facts-Estimate"]) < 1.0  # three facts fit in one window


def test_no_fact_is_no_wait(client: FlaskClient) -> None:
    headers, lines = streamed(client, "/cat_async_limited/0")
    assert headers["X-Facts-Estimate"] == "0.00"
    assert [line["eta"] for line in lines] == [0.0]


def test_the_other_strategies_do_not_guess(client: FlaskClient) -> None:
    for path in ("/cat/2", "/cat_async/2"):
        headers, lines = streamed(client, path)
        assert "X-Facts-Estimate" not in headers
        assert not any("eta" in line for line in lines)


def test_a_call_that_waits_for_the_window_says_so_at_once(make_app: AppFactory) -> None:
    client = make_app(rate="5 per 3 seconds").test_client()
    _, lines = streamed(client, "/cat_async_limited/6")  # 5 now, 1 a window later
    waits = [line["waiting"] for line in lines if "progress" in line]
    assert waits, lines
    assert waits[0]["for"] == "window"
    assert 1.0 < waits[0]["seconds"] <= 3.0
    told = next(i for i, line in enumerate(lines) if "progress" in line)
    sixth = next(i for i, line in enumerate(lines) if line.get("index") == 6)
    assert told < sixth  # as the wait began, not at the next heartbeat


def test_a_call_in_flight_moves_the_end_of_a_call_to_come(make_app: AppFactory) -> None:
    """Turns are fair between clients: the estimate sees the queue of another client's call."""
    app = make_app()
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    alone = budget(other, 40)["wait"]
    thread = threading.Thread(target=app.test_client().get, args=("/cat_async_limited/40",))
    thread.start()
    looks = [budget(other, 40)]
    while not looks[-1]["calls"]:
        looks.append(budget(other, 40))
    thread.join()
    seen = looks[-1]
    assert seen["calls"][0]["queued"] >= 20  # a window has not passed: half of it waits
    assert seen["wait"] >= alone + 1.0  # a window more, at least


def test_an_estimate_counts_down_and_ignores_noise_but_not_news() -> None:
    now = [100.0]
    estimate = Estimate(clock=lambda: now[0])
    assert estimate.seconds() is None
    estimate.reckon(10.0)
    now[0] += 4.0
    assert estimate.seconds() == 6.0
    estimate.reckon(6.3)  # a round trip longer than the last: noise
    assert estimate.seconds() == 6.0
    estimate.reckon(9.0)  # a caller came: news
    assert estimate.seconds() == 9.0
    estimate.reckon(2.0)
    assert estimate.seconds() == 2.0
    assert estimate.first == 10.0
    estimate.waits(now[0] + 3.0, "the upstream window")
    assert estimate.waiting() == ("the upstream window", 3.0)
    estimate.finished()
    assert estimate.seconds() == 0.0 and estimate.waiting() is None


def test_the_share_left_to_another_client_of_the_address_is_in_the_estimate(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    """A neighbour spent 5 of 20 in this window: its share is left to it until half-time (5 s),
    and the first answer that shows it moves the estimate there, not to 0."""
    emulator.control.configure(rate_limit="20 per 10 seconds")
    client = make_app(rate="20 per 10 seconds").test_client()
    for _ in range(5):
        urllib3.request("GET", f"{emulator.url}/fact")
    _, lines = streamed(client, "/cat_async_limited/12")
    assert [line["index"] for line in lines if "index" in line] == list(range(1, 13))
    assert 3.0 < lines[0]["eta"] <= 5.0  # the first fact (a probe), then the hold to half-time
    assert any("progress" in line for line in lines)  # the wait was said as it began
    assert emulator.control.stats()["statuses"] == {"200": 17}
