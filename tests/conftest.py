"""Fixtures shared by the tests."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bench.processes import RedisServer, ServiceProcess, catfacts_env, free_port
from catfacts import create_app
from catfacts.emulator import EmulatorConfig
from catfacts.emulator.process import EmulatorProcess
from catfacts.web.extension import EXTENSION
from tests.support import Api, AppFactory, StartService, wait_for_http

# --- The emulated Cat Facts API ---------------------------------------------------------------

# Each test starts from these settings: a limit low enough to reach within a test.
EMULATOR_DEFAULTS = EmulatorConfig(rate_limit="20/second")


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorProcess]:
    """One emulator subprocess for the whole session, on a free loopback port."""
    with EmulatorProcess.start(rate_limit=EMULATOR_DEFAULTS.rate_limit) as process:
        yield process


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[Api]:
    """A client of the emulator's public routes."""
    client = Api(emulator.url)
    yield client
    client.close()


@pytest.fixture
def emulator(emulator_process: EmulatorProcess) -> EmulatorProcess:
    """The shared emulator at its default settings, with no memory of earlier tests."""
    emulator_process.control.configure(**EMULATOR_DEFAULTS.to_json())
    emulator_process.control.reset()
    return emulator_process


# --- The service ------------------------------------------------------------------------------


@pytest.fixture
def upstream_url(emulator: EmulatorProcess) -> str:
    """The URL of the test emulator."""
    return emulator.url


@pytest.fixture
def make_app(emulator: EmulatorProcess) -> Iterator[AppFactory]:
    """Builds apps against the test emulator (20/second); their loops stop after the test."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        settings = {"upstream_url": emulator.url, "rate": "20/second", "upstream_timeout": 2.0}
        app = create_app({**settings, **overrides})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[EXTENSION].close()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """The service with the test settings."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


# --- A private Redis --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The redis-server binary: missing, a failure in CI and a loud skip elsewhere."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed; `make test` installs Debian's package as root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"REDIS TESTS SKIPPED: {message}")
    return binary


@pytest.fixture(scope="session")
def redis_session(redis_binary: str) -> Iterator[RedisServer]:
    """One private Redis for the session, on a free port."""
    server = RedisServer(redis_binary)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_session: RedisServer) -> str:
    """The session's private Redis, emptied for this test."""
    with redis.Redis.from_url(redis_session.url) as client:
        client.flushall()
    return redis_session.url


@pytest.fixture
def private_redis(redis_binary: str) -> Iterator[RedisServer]:
    """A Redis of this test's own, for tests that kill it."""
    server = RedisServer(redis_binary)
    server.start()
    yield server
    server.kill()


# --- The service as `make run` serves it ------------------------------------------------------


@pytest.fixture
def running_service(emulator: EmulatorProcess) -> Iterator[StartService]:
    """Starts `python -m catfacts` against the test emulator (20/second); stops it after."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> tuple[str, ServiceProcess]:
        port = free_port()
        variables = {
            "CATFACTS_UPSTREAM_URL": emulator.url,
            "CATFACTS_RATE_LIMIT": EMULATOR_DEFAULTS.rate_limit,
            "CATFACTS_PORT": str(port),
            **env,
        }
        service = ServiceProcess([sys.executable, "-m", "catfacts"], catfacts_env(**variables))
        started.append(service)
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/hello/")
        return url, service

    yield start
    for service in started:
        service.stop()
