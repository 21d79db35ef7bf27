"""/fact redirecting to /v2/fact: each hop limited and counted, over real sockets."""

from __future__ import annotations

import pytest
import urllib3

from catfacts.emulator.facts import FACTS
from catfacts.emulator.process import EmulatorControlError, EmulatorProcess
from tests.support import Api


@pytest.mark.parametrize(("redirect", "status"), [("temporary", 307), ("permanent", 308)])
def test_fact_redirects_to_v2_with_its_query(
    api: Api, emulator: EmulatorProcess, redirect: str, status: int
) -> None:
    emulator.control.configure(redirect=redirect)
    moved = api.get("/fact?max_length=60&x=a%20b")
    assert moved.status == status
    assert moved.headers["Location"] == "/v2/fact?max_length=60&x=a%20b"
    assert moved.headers["X-RateLimit-Remaining"] == "19"  # the hop went through the throttle
    fact = api.get_json(moved.headers["Location"])
    assert fact["fact"] in FACTS
    assert fact["length"] <= 60
    assert api.get("/fact").headers["Location"] == "/v2/fact"


def test_every_hop_is_an_arrival_counted_by_path(emulator: EmulatorProcess) -> None:
    emulator.control.configure(redirect="temporary")
    http = urllib3.PoolManager()  # follows redirects, as most clients do
    try:
        for _ in range(5):
            response = http.request("GET", f"{emulator.url}/fact", retries=urllib3.Retry(3))
            assert response.status == 200
            assert response.json()["fact"] in FACTS
    finally:
        http.clear()
    stats = emulator.control.stats()
    assert stats["by_path"] == {"/fact": {"307": 5}, "/v2/fact": {"200": 5}}
    assert stats["statuses"] == {"200": 5, "307": 5}
    assert [status for _, status in emulator.control.arrivals()] == [307, 200] * 5


def test_every_hop_spends_the_limit_and_a_refused_hop_is_a_429(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(redirect="permanent", rate_limit="3/minute")
    statuses = [api.get(path).status for path in ["/fact", "/v2/fact", "/fact", "/v2/fact"]]
    assert statuses == [308, 200, 308, 429]
    refused = api.get("/fact")
    assert (refused.status, refused.json()) == (429, {"message": "Too Many Attempts."})
    assert "Location" not in refused.headers
    assert emulator.control.stats()["by_path"] == {
        "/fact": {"308": 2, "429": 1},
        "/v2/fact": {"200": 1, "429": 1},
    }


def test_a_redirect_takes_no_fate_of_the_plan(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(redirect="temporary", plan=["error"])
    assert api.get("/fact").status == 307
    assert api.get("/v2/fact").status == 500


def test_without_a_redirect_v2_is_an_uncounted_404(api: Api, emulator: EmulatorProcess) -> None:
    response = api.get("/v2/fact")
    assert (response.status, response.json()) == (404, {"message": "Not Found"})
    assert api.request("POST", "/v2/fact").status == 404
    assert api.get("/fact").status == 200
    assert emulator.control.stats()["by_path"] == {"/fact": {"200": 1}}


def test_redirecting_can_be_turned_off_again(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(redirect="temporary")
    assert api.get("/fact").status == 307
    assert emulator.control.configure(redirect=None)["redirect"] is None
    assert api.get("/fact").status == 200


def test_an_unknown_redirect_is_refused(emulator: EmulatorProcess) -> None:
    with pytest.raises(EmulatorControlError, match="redirect must be null or one of temporary, "):
        emulator.control.configure(redirect="sometimes")


def test_the_redirect_is_set_from_the_command_line() -> None:
    with EmulatorProcess.start(extra_args=["--redirect", "permanent"]) as process:
        assert process.control.config()["redirect"] == "permanent"
        api = Api(process.url)
        try:
            assert api.get("/fact").status == 308
        finally:
            api.close()
