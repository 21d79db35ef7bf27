"""Per-client inbound limits (CATFACTS_INBOUND_LIMIT): a JSON 429 with Retry-After and the IETF
RateLimit fields, one limit per client, shared by every worker through Redis."""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import urllib3
from flask.testing import FlaskClient

from bench.processes import RedisServer
from catfacts.emulator.process import EmulatorProcess
from tests.support import AppFactory, scrape, start_gunicorn, total

ADDRESS_A = {"REMOTE_ADDR": "127.0.0.2"}
ADDRESS_B = {"REMOTE_ADDR": "127.0.0.3"}


def get(client: FlaskClient, path: str, environ: dict[str, str], **headers: str) -> object:
    return client.get(path, environ_base=environ, headers=headers)


def test_past_its_limit_a_client_gets_a_json_429_with_retry_after_and_ratelimit_fields(
    make_app: AppFactory,
) -> None:
    client = make_app(inbound_limit="3/minute").test_client()
    remaining = []
    for _ in range(3):
        response = client.get("/cat/0", environ_base=ADDRESS_A)
        assert response.status_code == 200
        assert response.headers["RateLimit-Policy"] == '"inbound";q=3;w=60'
        remaining.append(re.search(r";r=(\d+);t=(\d+)", response.headers["RateLimit"]))
    assert [int(m.group(1)) for m in remaining if m] == [2, 1, 0]
    refused = client.get("/cat_async_limited/1", environ_base=ADDRESS_A)
    assert refused.status_code == 429
    assert refused.json is not None
    assert "CATFACTS_INBOUND_LIMIT" in refused.json["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"inbound";r=0;t=')
    # Another client has its own limit; the operator's endpoints have none.
    assert client.get("/cat/0", environ_base=ADDRESS_B).status_code == 200
    for path in ("/hello/", "/healthz", "/metrics", "/openapi.json"):
        assert client.get(path, environ_base=ADDRESS_A).status_code == 200


def test_with_api_keys_the_limit_is_per_key_not_per_address(make_app: AppFactory) -> None:
    keys = ["key-one-12345", "key-two-12345"]
    client = make_app(inbound_limit="2/minute", api_keys=",".join(keys)).test_client()
    statuses = [
        client.get("/cat/0", environ_base=ADDRESS_A, headers={"X-API-Key": key}).status_code
        for key in [keys[0], keys[0], keys[0], keys[1]]
    ]
    assert statuses == [200, 200, 429, 200]


def test_without_a_limit_no_ratelimit_fields_are_sent(client: FlaskClient) -> None:
    response = client.get("/cat/0")
    assert "RateLimit" not in response.headers
    assert "RateLimit-Policy" not in response.headers


def test_two_workers_sharing_redis_enforce_one_limit_per_client(
    emulator: EmulatorProcess, redis_url: str
) -> None:
    env = {
        "CATFACTS_UPSTREAM_URL": emulator.url,
        "CATFACTS_RATE_LIMIT": "20/second",
        "CATFACTS_REDIS_URL": redis_url,
        "CATFACTS_INBOUND_LIMIT": "4/minute",
    }
    emulator.control.configure(latency=0.3)  # slow answers, so the callers spread over both
    process, url = start_gunicorn(2, env, connections=2)
    try:
        pool = urllib3.PoolManager(maxsize=8, retries=False, timeout=30)
        with ThreadPoolExecutor(8) as threads:
            statuses = Counter(
                threads.map(lambda _: pool.request("GET", f"{url}/cat/1").status, range(8))
            )
        served = set(
            re.findall(r" (\d+) \[\S+\] catfacts\.web\.(?:views|inbound): ", process.output)
        )
        assert statuses == {200: 4, 429: 4}
        assert len(served) == 2, "both workers should have answered"
        assert total(scrape(url), "catfacts_calls_refused_total", reason="inbound_limit") == 4
    finally:
        process.stop()


def test_with_redis_gone_calls_go_on_without_the_limit_and_never_a_500(
    make_app: AppFactory, private_redis: RedisServer
) -> None:
    client = make_app(inbound_limit="2/minute", redis_url=private_redis.url).test_client()
    assert client.get("/cat/0").status_code == 200
    private_redis.kill()
    answers = [client.get("/cat/0") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200] * 3
    assert "RateLimit" not in answers[0].headers
