"""Types and small helpers shared by the tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis
import urllib3
from flask import Flask


class AppFactory(Protocol):
    """Builds an app against the test emulator, with settings overridden by name."""

    def __call__(self, **overrides: Any) -> Flask: ...


class StartService(Protocol):
    """Starts `python -m catfacts` with more environment variables; returns its URL and process."""

    def __call__(self, **env: str) -> tuple[str, ServiceProcess]: ...


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def closed_port_url() -> str:
    """The URL of a loopback port nobody listens on: connections to it are refused."""
    return f"http://127.0.0.1:{free_port()}"


class ServiceProcess:
    """`python -m catfacts` (or any command) in a child process, its stderr read line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def wait_for_line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """Wait until a line matches `pattern`; fail with the output so far if it never does."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")
                self._changed.wait(left)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(5)

    def wait(self, timeout: float = 20.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()


def catfacts_env(**variables: str) -> dict[str, str]:
    """The test process's environment without any CATFACTS_ setting, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATFACTS_")}
    env.pop("WEB_CONCURRENCY", None)
    return {**env, **variables}


class RedisServer:
    """A private `redis-server` on a free loopback port, never the machine's own."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


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
