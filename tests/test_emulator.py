"""The Cat Facts API emulator, over real sockets, against a real emulator process."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from catfacts.emulator import EmulatorConfig
from catfacts.emulator.facts import FACTS
from catfacts.emulator.faults import FaultInjector
from catfacts.emulator.pagination import page_window
from catfacts.emulator.process import (
    EmulatorControlError,
    EmulatorProcess,
    max_in_any_window,
)

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = [sys.executable, "-m", "catfacts.emulator"]
ROOMY = "1000/second"  # for tests that make more requests than the default limit allows
LAST_PAGE = math.ceil(len(FACTS) / 10)


class Api:
    """The emulator's public routes, as a client of catfact.ninja calls them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = urllib3.PoolManager(retries=False, timeout=10.0)

    def get(self, path: str, *, request_id: str | None = None) -> urllib3.BaseHTTPResponse:
        headers = {"X-Request-ID": request_id} if request_id else {}
        return self._http.request("GET", f"{self.url}{path}", headers=headers)

    def request(self, method: str, path: str, body: str | None = None) -> urllib3.BaseHTTPResponse:
        return self._http.request(method, f"{self.url}{path}", body=body)

    def get_json(self, path: str, *, request_id: str | None = None) -> Any:
        """The JSON of a 200 answer; fails the test on any other status."""
        response = self.get(path, request_id=request_id)
        assert response.status == 200, response.data
        return response.json()

    def close(self) -> None:
        self._http.clear()


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[Api]:
    """A client of the emulator's public routes."""
    client = Api(emulator.url)
    yield client
    client.close()


# --- GET /fact -------------------------------------------------------------------------------


def test_the_facts_are_many_distinct_and_of_varied_length() -> None:
    assert len(FACTS) >= 160
    assert len(set(FACTS)) == len(FACTS)
    assert min(map(len, FACTS)) <= 30
    assert 200 <= max(map(len, FACTS)) <= 250


def test_a_fact_comes_with_its_length(api: Api) -> None:
    body = api.get_json("/fact")
    assert set(body) == {"fact", "length"}
    assert body["fact"] in FACTS
    assert body["length"] == len(body["fact"])


def test_max_length_only_picks_facts_that_short(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit=ROOMY)
    lengths = [api.get_json("/fact?max_length=60")["length"] for _ in range(30)]
    assert max(lengths) <= 60


def test_a_max_length_equal_to_the_shortest_fact_picks_it(api: Api) -> None:
    shortest = min(FACTS, key=len)
    assert api.get_json(f"/fact?max_length={len(shortest)}")["fact"] == shortest


@pytest.mark.parametrize("max_length", [str(min(map(len, FACTS)) - 1), "0", "-5", "abc", "1.5"])
def test_when_no_fact_is_short_enough_it_is_a_404(api: Api, max_length: str) -> None:
    response = api.get(f"/fact?max_length={max_length}")
    assert response.status == 404
    assert response.json() == {"message": "Fact not found"}
    assert response.headers["X-RateLimit-Limit"] == "20"


# --- GET /facts ------------------------------------------------------------------------------


def facts_json(facts: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"fact": fact, "length": len(fact)} for fact in facts]


def test_the_first_page_has_laravels_envelope(api: Api) -> None:
    body = api.get_json("/facts")
    assert body == {
        "current_page": 1,
        "data": facts_json(FACTS[:10]),
        "first_page_url": f"{api.url}/facts?page=1",
        "from": 1,
        "last_page": LAST_PAGE,
        "last_page_url": f"{api.url}/facts?page={LAST_PAGE}",
        "links": body["links"],  # checked on their own below
        "next_page_url": f"{api.url}/facts?page=2",
        "path": f"{api.url}/facts",
        "per_page": 10,
        "prev_page_url": None,
        "to": 10,
        "total": len(FACTS),
    }
    assert list(body) == sorted(body)  # Laravel's field order, which happens to be alphabetical


def test_page_two_follows_page_one(api: Api) -> None:
    body = api.get_json("/facts?page=2")
    assert body["current_page"] == 2
    assert body["data"] == facts_json(FACTS[10:20])
    assert (body["from"], body["to"]) == (11, 20)
    assert body["prev_page_url"] == f"{api.url}/facts?page=1"
    assert body["next_page_url"] == f"{api.url}/facts?page=3"


def test_the_last_page_holds_the_rest_and_has_no_next(api: Api) -> None:
    body = api.get_json(f"/facts?page={LAST_PAGE}")
    assert body["data"] == facts_json(FACTS[(LAST_PAGE - 1) * 10 :])
    assert body["to"] == len(FACTS)
    assert body["next_page_url"] is None


def test_limit_and_max_length_shape_the_pages(api: Api) -> None:
    short = tuple(fact for fact in FACTS if len(fact) <= 40)
    body = api.get_json("/facts?limit=5&max_length=40&page=2")
    assert body["per_page"] == 5
    assert body["total"] == len(short)
    assert body["last_page"] == math.ceil(len(short) / 5)
    assert body["data"] == facts_json(short[5:10])


def test_a_page_past_the_end_is_empty(api: Api) -> None:
    body = api.get_json(f"/facts?page={LAST_PAGE + 5}")
    assert body["data"] == []
    assert body["from"] is None
    assert body["to"] is None
    assert body["next_page_url"] is None
    assert body["prev_page_url"] == f"{api.url}/facts?page={LAST_PAGE + 4}"


@pytest.mark.parametrize("page", ["abc", "0", "-3", "2.5"])
def test_a_page_that_is_not_a_positive_integer_is_page_one(api: Api, page: str) -> None:
    assert api.get_json(f"/facts?page={page}")["current_page"] == 1


def test_links_are_laravels_with_previous_and_next(api: Api) -> None:
    links = api.get_json("/facts?page=2")["links"]
    assert links[0] == {
        "url": f"{api.url}/facts?page=1",
        "label": "&laquo; Previous",
        "active": False,
    }
    assert links[-1] == {"url": f"{api.url}/facts?page=3", "label": "Next &raquo;", "active": False}
    assert {"url": f"{api.url}/facts?page=2", "label": "2", "active": True} in links
    assert {"url": None, "label": "...", "active": False} in links
    assert [link["label"] for link in links if link["active"]] == ["2"]


def test_on_page_one_previous_has_no_url(api: Api) -> None:
    assert api.get_json("/facts")["links"][0]["url"] is None


@pytest.mark.parametrize(
    ("current", "last", "window"),
    [
        (1, 1, [1]),
        (2, 13, list(range(1, 14))),
        (1, 21, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 20, 21]),
        (7, 21, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 20, 21]),
        (8, 21, [1, 2, None, 5, 6, 7, 8, 9, 10, 11, None, 20, 21]),
        (14, 21, [1, 2, None, 11, 12, 13, 14, 15, 16, 17, None, 20, 21]),
        (15, 21, [1, 2, None, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]),
        (21, 21, [1, 2, None, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]),
    ],
)
def test_the_page_links_window_is_laravels(
    current: int, last: int, window: list[int | None]
) -> None:
    assert page_window(current, last) == window


# --- Routing errors --------------------------------------------------------------------------


def test_an_unknown_path_is_a_json_404_and_not_counted(api: Api, emulator: EmulatorProcess) -> None:
    response = api.get("/nothing/here")
    assert response.status == 404
    assert response.json() == {"message": "Not Found"}
    assert "X-RateLimit-Limit" not in response.headers
    assert emulator.control.stats()["total"] == 0


def test_a_wrong_method_is_a_json_405(api: Api) -> None:
    response = api.request("POST", "/fact")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json() == {
        "message": "The POST method is not supported for route fact. Supported methods: GET, HEAD."
    }


# --- Rate limit ------------------------------------------------------------------------------


def test_the_fixed_window_over_real_sockets(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="5/second")
    first = api.get("/fact")
    window_ends_by = time.monotonic() + 1.0  # the window opened before `first` came back
    rest = [api.get("/fact") for _ in range(6)]
    passed, rejected = [first, *rest[:4]], rest[4:]
    assert [r.status for r in passed] == [200] * 5
    assert [r.headers["X-RateLimit-Remaining"] for r in passed] == ["4", "3", "2", "1", "0"]
    for response in rejected:
        assert response.status == 429
        assert response.json() == {"message": "Too Many Attempts."}
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["Retry-After"] == "0"  # under a second left, rounded down
        assert abs(int(response.headers["X-RateLimit-Reset"]) - time.time()) <= 1  # second + 0
    time.sleep(max(0.0, window_ends_by - time.monotonic()))  # the window's own length
    after = api.get("/fact")
    assert after.status == 200
    assert after.headers["X-RateLimit-Remaining"] == "4"  # the rejected hits were not counted


def test_the_limit_applies_before_faults_and_rejections_keep_the_plan(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="1/minute", plan=["error", "ok"])
    failed = api.get("/fact")
    assert failed.status == 500
    assert failed.headers["X-RateLimit-Remaining"] == "0"  # the failed request counted
    assert api.get("/fact").status == 429
    assert emulator.control.config()["plan"] == ["ok"]


def test_facts_is_rate_limited_too(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="1/minute")
    assert api.get("/facts").status == 200
    assert api.get("/fact").status == 429


def test_a_new_rate_limit_starts_every_client_afresh(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="1/minute")
    api.get("/fact")
    assert api.get("/fact").status == 429
    emulator.control.configure(rate_limit="1/minute")
    assert api.get("/fact").status == 200


# --- Latency and faults ----------------------------------------------------------------------


def test_latency_delays_every_answer(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(latency=0.2)
    started = time.monotonic()
    assert api.get("/fact").status == 200
    assert time.monotonic() - started >= 0.2


def test_jitter_varies_the_wait_around_the_latency_and_never_below_zero() -> None:
    jittery = FaultInjector(EmulatorConfig(latency=0.1, jitter=0.05, seed=1))
    delays = [jittery.for_fact().delay for _ in range(500)]
    assert 0.05 <= min(delays) < 0.06
    assert 0.14 < max(delays) <= 0.15
    floored = FaultInjector(EmulatorConfig(latency=0.01, jitter=0.05, seed=1))
    assert min(floored.for_fact().delay for _ in range(500)) == 0.0


def test_the_plan_decides_each_fate_in_turn(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["error", "malformed", "missing_fact", "ok"])
    error, malformed, missing, ok = (api.get("/fact") for _ in range(4))
    assert (error.status, error.json()) == (500, {"message": "Server Error"})
    assert "X-RateLimit-Remaining" in error.headers
    assert malformed.status == 200
    with pytest.raises(ValueError):
        json.loads(malformed.data)
    assert missing.status == 200
    assert "fact" not in missing.json()
    assert ok.status == 200
    assert ok.json()["fact"] in FACTS
    assert emulator.control.config()["plan"] == []


def test_a_slow_fate_waits_then_answers_normally(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["slow"], slow_seconds=0.3)
    started = time.monotonic()
    response = api.get("/fact")
    assert time.monotonic() - started >= 0.3
    assert response.status == 200
    assert response.json()["fact"] in FACTS


def test_rate_based_faults_repeat_with_the_same_seed(api: Api, emulator: EmulatorProcess) -> None:
    def outcomes() -> list[tuple[int, str]]:
        emulator.control.configure(seed=42)
        responses = [api.get("/fact") for _ in range(30)]
        return [(response.status, response.headers["Content-Type"]) for response in responses]

    emulator.control.configure(rate_limit=ROOMY, error_rate=0.3, malformed_rate=0.2)
    first = outcomes()
    assert first == outcomes()
    assert {status for status, _ in first} == {200, 500}
    assert any(content_type.startswith("text/html") for _, content_type in first)


# --- Tagging, counting and arrivals ----------------------------------------------------------


def test_tagged_facts_tell_each_callers_answers_apart(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(tag_facts=True)
    callers = ["a", "b", "a", None, "b", "a"]
    bodies = [api.get_json("/fact", request_id=caller) for caller in callers]
    tags = [body["fact"].rsplit(" [", 1)[1] for body in bodies]
    assert tags == ["a #1]", "b #1]", "a #2]", "- #1]", "b #2]", "a #3]"]
    assert all(body["length"] == len(body["fact"]) for body in bodies)


def test_stats_count_answers_by_status_client_and_request_id(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="3/minute")
    for caller in ["x", "y", None, "x"]:
        api.get("/fact", request_id=caller)
    api.get("/facts")
    assert emulator.control.stats() == {
        "statuses": {"200": 3, "429": 2},
        "by_client": {"127.0.0.1": {"200": 3, "429": 2}},
        "by_request_id": {"x": {"200": 1, "429": 1}, "y": {"200": 1}},
        "total": 5,
    }


def test_arrivals_are_in_order_with_their_statuses(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="3 per 10 seconds")
    before = time.monotonic()
    for _ in range(5):
        api.get("/fact")
    arrivals = emulator.control.arrivals()
    times = [t for t, _ in arrivals]
    assert [status for _, status in arrivals] == [200, 200, 200, 429, 429]
    assert times == sorted(times)
    assert before <= times[0] <= time.monotonic()  # one monotonic clock for the whole machine
    assert max_in_any_window(arrivals, 10.0, statuses={200}) == 3
    assert max_in_any_window(arrivals, 10.0) == 5
    raw = api.get_json("/__emulator__/arrivals")
    assert (raw["window"], raw["limit"]) == (10.0, 3)


def test_max_in_any_window_uses_half_open_intervals() -> None:
    arrivals = [(0.0, 200), (1.0, 200), (1.5, 429), (2.0, 200), (2.5, 200)]
    assert max_in_any_window(arrivals, 1.0) == 2
    assert max_in_any_window(arrivals, 1.0, statuses={200}) == 2
    assert max_in_any_window(arrivals, 1.5, statuses={200}) == 2
    assert max_in_any_window(arrivals, 1.51) == 4
    assert max_in_any_window(arrivals, 100.0, statuses={429}) == 1
    assert max_in_any_window([], 1.0) == 0


def test_reset_clears_counts_arrivals_and_windows_but_not_settings(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="1/minute", latency=0.01)
    api.get("/fact")
    assert api.get("/fact").status == 429
    emulator.control.reset()
    assert emulator.control.stats()["total"] == 0
    assert emulator.control.arrivals() == []
    assert api.get("/fact").status == 200
    assert emulator.control.config()["latency"] == 0.01


# --- Admin configuration ---------------------------------------------------------------------


def test_put_config_returns_every_setting(emulator: EmulatorProcess) -> None:
    config = emulator.control.configure(latency=0.5, plan=["slow"], seed=3)
    assert config == {
        **EmulatorConfig(rate_limit="20/second").to_json(),
        "latency": 0.5,
        "plan": ["slow"],
        "seed": 3,
    }
    assert emulator.control.config() == config


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"rate_limit": "lots"}, "bad rate limit"),
        ({"rate_limit": 5}, "rate_limit must be a string"),
        ({"latency": -1}, "latency must be a number of seconds >= 0"),
        ({"jitter": "0.1"}, "jitter must be a number"),
        ({"error_rate": 1.5}, "error_rate must be a probability"),
        ({"error_rate": 0.6, "slow_rate": 0.6}, "fault rates add up to 1.2"),
        ({"plan": ["ok", "explode"]}, "plan must be a list of fates"),
        ({"plan": "ok"}, "plan must be a list of fates"),
        ({"seed": 1.5}, "seed must be an integer or null"),
        ({"tag_facts": "yes"}, "tag_facts must be true or false"),
        ({"colour": "tabby"}, "unknown setting(s): colour"),
    ],
)
def test_a_bad_setting_is_a_400_and_changes_nothing(
    emulator: EmulatorProcess, changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(EmulatorControlError) as refused:
        emulator.control.configure(slow_seconds=5, **changes)  # a good change among bad ones
    assert refused.value.status == 400
    assert complaint in refused.value.message
    assert emulator.control.config()["slow_seconds"] == 30


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""])
def test_a_config_body_that_is_not_a_json_object_is_a_400(api: Api, body: str) -> None:
    response = api.request("PUT", "/__emulator__/config", body=body)
    assert response.status == 400
    assert "JSON object" in response.json()["message"]


# --- Command line and process ----------------------------------------------------------------


def run_emulator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EMULATOR, *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=False
    )


def test_help_describes_the_options() -> None:
    result = run_emulator("--help")
    assert result.returncode == 0
    assert "--rate-limit" in result.stdout
    assert "--exit-with-stdin" in result.stdout


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--rate-limit", "often"], "bad rate limit 'often'"),
        (["--latency", "-1"], "latency must be a number of seconds >= 0"),
        (["--plan", "ok,boom"], "plan must be a list of fates"),
        (["--port", "eighty"], "invalid int value"),
    ],
)
def test_a_bad_argument_is_one_line_on_stderr_and_exit_2(args: list[str], complaint: str) -> None:
    result = run_emulator(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert complaint in result.stderr


def test_a_port_in_use_is_one_line_on_stderr_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_emulator("--port", str(port))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def start_listening(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator on a free port; return it and the line it announced itself with."""
    process = subprocess.Popen(
        [*EMULATOR, "--port", "0", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def test_closing_stdin_stops_the_emulator() -> None:
    process, line = start_listening("--exit-with-stdin")
    assert line.startswith("catfacts-emulator listening on http://127.0.0.1:")
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=10) == 0


def test_sigterm_stops_the_emulator_cleanly() -> None:
    process, line = start_listening()
    assert "listening on" in line
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_a_started_process_serves_and_stops_once_and_for_all() -> None:
    with EmulatorProcess.start(rate_limit="2/second") as process:
        assert process.url.startswith("http://127.0.0.1:")
        assert not process.url.endswith("/")
        assert process.control.config()["rate_limit"] == "2/second"
    process.stop()  # a second stop is harmless
    with pytest.raises(ProcessLookupError):  # stopped, and reaped
        os.kill(process.pid, 0)


def test_a_process_that_cannot_start_raises_with_its_stderr() -> None:
    with pytest.raises(RuntimeError, match="bad rate limit 'never'"):
        EmulatorProcess.start(rate_limit="never")
