"""/metrics under gunicorn with two workers: the figures add up across workers and match what
the emulator counted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from flask.testing import FlaskClient

from bench.processes import ServiceProcess
from catfacts.emulator.process import EmulatorProcess
from tests.support import scrape, start_gunicorn, total

LIMIT = 20  # the test emulator's, per second
LIMITED_CALLERS, EACH = 4, 15


@pytest.fixture
def service(emulator: EmulatorProcess, redis_url: str) -> Iterator[tuple[ServiceProcess, str]]:
    env = {"CATFACTS_UPSTREAM_URL": emulator.url, "CATFACTS_RATE_LIMIT": f"{LIMIT}/second"}
    env["CATFACTS_REDIS_URL"] = redis_url  # the workers share one budget, as documented
    process, url = start_gunicorn(2, env, connections=2)
    yield process, url
    process.stop()


def test_metrics_add_up_across_two_workers_and_match_the_emulator(
    service: tuple[ServiceProcess, str], emulator: EmulatorProcess
) -> None:
    process, url = service
    pool = urllib3.PoolManager(maxsize=8, retries=False, timeout=60)

    def get(path: str) -> int:
        return pool.request("GET", f"{url}{path}").status

    assert get("/cat/3") == 200
    assert get(f"/cat_async/{LIMIT + 10}") == 200  # past the limit: the emulator answers 429s
    with ThreadPoolExecutor(LIMITED_CALLERS) as threads:
        limited = list(threads.map(get, [f"/cat_async_limited/{EACH}"] * LIMITED_CALLERS))
    assert get("/cat_async_limited/1000?deadline=0.01") == 503  # refused at the door
    assert get("/nope") == 404

    served = set(re.findall(r" (\d+) \[\S+\] catfacts.web.views: ", process.output))
    assert len(served) == 2, "both workers should have served calls"
    stats = emulator.control.stats()
    samples = scrape(url)
    by_status = {
        status: count
        for status, count in stats["statuses"].items()
        if count  # the emulator's own count of what it answered
    }
    counted = {
        status: int(total(samples, "catfacts_upstream_requests_total", status=status))
        for status in by_status
    }
    assert counted == by_status
    assert total(samples, "catfacts_upstream_requests_total") == stats["total"]
    assert total(samples, "catfacts_upstream_rate_limited_total") == by_status.get("429", 0)
    assert total(samples, "catfacts_upstream_requests_total", strategy="one_by_one") == 3
    assert total(samples, "catfacts_upstream_requests_total", strategy="all_at_once") == LIMIT + 10
    limited_sent = total(samples, "catfacts_upstream_requests_total", strategy="limited")
    assert limited == [200] * LIMITED_CALLERS, process.output
    assert limited_sent >= LIMITED_CALLERS * EACH
    assert total(samples, "catfacts_upstream_retries_total") == limited_sent - sum(
        EACH for status in limited if status == 200
    )
    assert total(samples, "catfacts_slot_wait_seconds_count") >= limited_sent
    assert total(samples, "catfacts_calls_refused_total", reason="deadline") == 1
    assert total(samples, "catfacts_calls_in_flight") == 0
    assert total(samples, "catfacts_slots_in_flight") == 0
    assert total(samples, "catfacts_queued_requests") == 0
    limited_rule = "/cat_async_limited/<int:n>"
    answered = total(samples, "catfacts_http_request_duration_seconds_count", endpoint=limited_rule)
    assert answered == LIMITED_CALLERS + 1
    assert (
        total(
            samples,
            "catfacts_http_request_duration_seconds_count",
            endpoint="unmatched",
            status="404",
        )
        == 1
    )
    # Every scrape, from either worker, gives the same sums.
    again = scrape(url)
    assert total(again, "catfacts_upstream_requests_total") == stats["total"]


def test_metrics_list_every_metric_before_any_call(client: FlaskClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.text
    for name in (
        "catfacts_upstream_requests_total",
        "catfacts_upstream_rate_limited_total",
        "catfacts_upstream_retries_total",
        "catfacts_slots_in_flight",
        "catfacts_slot_wait_seconds",
        "catfacts_calls_in_flight",
        "catfacts_queued_requests",
        "catfacts_http_request_duration_seconds",
        "catfacts_calls_refused_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_a_method_a_client_makes_up_is_counted_as_other_not_as_a_new_label(
    client: FlaskClient,
) -> None:
    for i in range(5):
        assert client.open("/cat/1", method=f"M{i:05d}").status_code == 405
    text = client.get("/metrics").text
    assert "M00001" not in text
    assert 'method="other"' in text
