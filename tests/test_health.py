"""/healthz answers while the process does; /readyz flips with the upstream, Redis and the pump."""

from __future__ import annotations

import time

from bench.processes import RedisServer
from catfacts.emulator.process import EmulatorProcess
from catfacts.web.extension import EXTENSION
from tests.support import AppFactory, closed_port_url


def test_healthz_answers_even_when_the_upstream_is_gone(make_app: AppFactory) -> None:
    response = make_app(upstream_url=closed_port_url()).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ready_and_spends_none_of_the_budget(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    response = make_app().test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"upstream": "ok", "dispatcher": "ok"}}
    assert emulator.control.stats()["total"] == 0


def test_readyz_flips_when_the_upstream_goes_away_and_comes_back(make_app: AppFactory) -> None:
    upstream = EmulatorProcess.start(rate_limit="20/second")
    port = int(upstream.url.rsplit(":", 1)[1])
    client = make_app(upstream_url=upstream.url).test_client()
    try:
        assert client.get("/readyz").status_code == 200
        upstream.stop()
        gone = client.get("/readyz")
        assert gone.status_code == 503
        assert gone.json is not None
        assert gone.json["error"].startswith("not ready: the upstream cannot be reached")
        assert gone.json["checks"]["dispatcher"] == "ok"
        upstream = EmulatorProcess.start(rate_limit="20/second", port=port)
        assert client.get("/readyz").status_code == 200
    finally:
        upstream.stop()


def test_readyz_says_degraded_when_redis_goes_away_and_ready_when_it_comes_back(
    make_app: AppFactory, private_redis: RedisServer
) -> None:
    client = make_app(redis_url=private_redis.url).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json is not None
    assert ready.json["checks"]["redis"] == "ok"
    time.sleep(0.3)  # a heartbeat: the limiter learns its share
    private_redis.kill()
    # Degraded, not dead: still 200 (calls are served on a local share), saying why.
    gone = client.get("/readyz")
    assert gone.status_code == 200
    assert gone.json is not None
    assert gone.json["status"] == "degraded"
    reason = gone.json["checks"]["redis"]
    assert f"Redis at 127.0.0.1:{private_redis.port} cannot be reached" in reason
    private_redis.start()
    deadline = time.monotonic() + 10
    while (back := client.get("/readyz")).json["status"] != "ready":  # type: ignore[index]
        assert time.monotonic() < deadline, back.json
        time.sleep(0.1)
    assert back.status_code == 200


def test_readyz_is_503_when_redis_never_answered(make_app: AppFactory) -> None:
    url = closed_port_url().replace("http", "redis")
    response = make_app(redis_url=url).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json is not None
    assert "cannot be reached" in response.json["error"]
    assert response.headers["Content-Type"] == "application/json"


def test_readyz_is_503_when_the_pump_has_died(make_app: AppFactory) -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/cat_async_limited/1").status_code == 200
    services = app.extensions[EXTENSION]
    pump = services.dispatcher._pump
    assert pump is not None
    services.loop.call_soon(pump.cancel)  # what an unexpected end of the task would leave
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None
    assert "pump has stopped" in response.json["error"]
