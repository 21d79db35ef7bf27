"""Types and small helpers shared by the tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

import urllib3
from flask import Flask

from bench.processes import ServiceProcess, catfacts_env, free_port


class AppFactory(Protocol):
    """Builds an app against the test emulator, with settings overridden by name."""

    def __call__(self, **overrides: Any) -> Flask: ...


class StartService(Protocol):
    """Starts `python -m catfacts` with more environment variables; returns its URL and process."""

    def __call__(self, **env: str) -> tuple[str, ServiceProcess]: ...


def closed_port_url() -> str:
    """The URL of a loopback port nobody listens on: connections to it are refused."""
    return f"http://127.0.0.1:{free_port()}"


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


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    """Wait until `url` answers 200."""
    pool = urllib3.PoolManager(retries=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pool.request("GET", url, timeout=1).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds; fail the test if it does not in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def start_gunicorn(
    workers: int, env: dict[str, str], *, connections: int = 4, threads: int = 16
) -> tuple[ServiceProcess, str]:
    """`gunicorn -w <workers>` as documented (reading gunicorn.conf.py), on a free port.

    Few connections a worker, so concurrent callers spread over every worker.
    """
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads)]
    command += ["--worker-connections", str(connections), "-b", f"127.0.0.1:{port}"]
    command += ["catfacts:create_app()"]
    service = ServiceProcess(command, catfacts_env(**env))
    for _ in range(workers):
        service.wait_for_line(r"Booting worker with pid")
    wait_for_http(f"http://127.0.0.1:{port}/hello/")
    return service, f"http://127.0.0.1:{port}"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`/metrics`, parsed: {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = urllib3.request("GET", f"{url}/metrics", retries=False, timeout=10)
    assert response.status == 200, response.data
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.data.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )
