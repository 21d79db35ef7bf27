"""Run the emulator in a child process and steer it: for tests, benchmarks, the embedded upstream.

A child process gives the real server on real sockets, isolated from the caller's event loop and
threads. It dies with its parent: the parent holds its stdin, and the end of stdin stops it.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import urllib3

from catfacts.emulator.server import READY_PREFIX

START_TIMEOUT = 10.0  # seconds for the child to say it is listening
STOP_TIMEOUT = 5.0  # seconds for each step of stopping: stdin closed, SIGTERM, SIGKILL


class EmulatorProcess:
    """An emulator running in a child process; `start` it, use `url` and `control`, `stop` it."""

    def __init__(self, popen: subprocess.Popen[bytes], url: str, stderr: IO[bytes]) -> None:
        """Adopt a started child; use `start` rather than calling this."""
        self._popen = popen
        self._stderr = stderr
        self.url = url
        self.control = EmulatorControl(url)

    @classmethod
    def start(
        cls,
        *,
        rate_limit: str = "100/minute",
        latency: float = 0.0,
        jitter: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_args: Sequence[str] = (),
        log_level: str = "WARNING",
    ) -> EmulatorProcess:
        """Start `python -m catfacts.emulator` and wait until it listens; RuntimeError if it won't.

        `extra_args` are more command-line options, such as `["--error-rate", "0.1"]`.
        """
        command = [
            *(sys.executable, "-m", "catfacts.emulator", "--host", host, "--port", str(port)),
            *("--rate-limit", rate_limit, "--latency", str(latency), "--jitter", str(jitter)),
            *("--log-level", log_level, *extra_args, "--exit-with-stdin"),
        ]
        # A file, not a pipe: nobody reads stderr while the child runs, and a full pipe blocks it.
        # It lives as long as the child, so no `with`: `stop` closes it.
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_child_env(),
            bufsize=0,  # unbuffered, so `select` sees every byte that `_read_url` has not read
        )
        try:
            url = _read_url(popen, timeout=START_TIMEOUT)
        except RuntimeError as error:
            _end(popen)
            stderr.seek(0)
            details = stderr.read().decode(errors="replace").strip()
            stderr.close()
            raise RuntimeError(f"{error}; its stderr:\n{details}") from None
        return cls(popen, url, stderr)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._popen.pid

    def stop(self) -> None:
        """Stop the child: close its stdin, then terminate or kill it if it lingers. Idempotent."""
        self.control.close()
        _end(self._popen)
        self._stderr.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class EmulatorControlError(RuntimeError):
    """The admin API refused a call; `status` and `message` are its answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class EmulatorControl:
    """A small client of the emulator's admin API, to reconfigure it and read what it saw."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self._admin_url = f"{url}/__emulator__"
        self._http = urllib3.PoolManager(maxsize=4, retries=False, timeout=timeout)

    def configure(self, **fields: object) -> dict[str, Any]:
        """Change the named settings (see EmulatorConfig); returns all of them.

        Raises EmulatorControlError (status 400) when a value is refused; nothing changes then.
        """
        return self._call("PUT", "config", fields)

    def config(self) -> dict[str, Any]:
        """The current settings."""
        return self._call("GET", "config")

    def reset(self) -> None:
        """Clear the counters, the arrivals and the rate windows; the settings stay."""
        self._call("POST", "reset")

    def stats(self) -> dict[str, Any]:
        """The "statuses", "by_client", "by_request_id" and "by_path" counts, and the "total"."""
        return self._call("GET", "stats")

    def arrivals(self) -> list[tuple[float, int]]:
        """(time, status) of every rate-limited request, in arrival order, on the emulator's clock.

        The clock is `time.monotonic`, which on Linux is shared by every process of the machine.
        The emulator keeps the latest `traffic.ARRIVALS_KEPT` since the last reset, far more than
        a test makes; `peaks` counts every one of them.
        """
        body = self._call("GET", "arrivals")
        return [(float(at), int(status)) for at, status in body["arrivals"]]

    def peaks(self) -> list[dict[str, Any]]:
        """Per rate: its "limit" and "window", the most arrivals ("all") and 200s ("ok") in any
        of its windows since the last reset, and whether those are "exact".

        The emulator keeps them as requests come, so they count every arrival, even those too
        old for `arrivals` to list.
        """
        peaks: list[dict[str, Any]] = self._call("GET", "arrivals")["peaks"]
        return peaks

    def sizes(self) -> dict[str, int]:
        """How many entries each structure that grows with traffic holds, and their bounds."""
        return {name: int(size) for name, size in self._call("GET", "sizes").items()}

    def rate_policies(self) -> list[tuple[int, float]]:
        """(limit, window in seconds) of every rate the emulator enforces, in the order given.

        With `max_in_any_window`, a test checks the arrivals against each of them.
        """
        body = self._call("GET", "arrivals")
        return [(int(limit), float(window)) for limit, window in body["policies"]]

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.clear()

    def _call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        response = self._http.request(method, f"{self._admin_url}/{path}", json=body)
        answer: dict[str, Any] = response.json()
        if response.status != 200:
            raise EmulatorControlError(response.status, str(answer.get("message")))
        return answer


def max_in_any_window(
    arrivals: Iterable[tuple[float, int]],
    window: float,
    statuses: Collection[int] | None = None,
) -> int:
    """The most arrivals in any half-open interval [t, t + window), counting only `statuses`.

    A client that respects a limit of L per W seconds never gets this above L for its 200s.
    """
    times = sorted(t for t, status in arrivals if statuses is None or status in statuses)
    most = 0
    first = 0
    for last, t in enumerate(times):
        while times[first] + window <= t:
            first += 1
        most = max(most, last - first + 1)
    return most


def _child_env() -> dict[str, str]:
    """This environment, with the directory holding `catfacts` first on the child's PYTHONPATH.

    The child then imports the very code the parent runs, installed or not.
    """
    root = str(Path(__file__).resolve().parents[2])
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, inherited] if inherited else [root])}


def _read_url(popen: subprocess.Popen[bytes], *, timeout: float) -> str:
    """Wait for the child's "listening on" line and return its URL."""
    assert popen.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([popen.stdout], [], [], left)
        if not readable:
            break
        line = popen.stdout.readline().decode(errors="replace")
        if not line:
            raise RuntimeError(f"the emulator exited with code {popen.wait()} before listening")
        if line.startswith(READY_PREFIX):
            return line.removeprefix(READY_PREFIX).strip()
    raise RuntimeError(f"the emulator did not listen within {timeout:g} s")


def _end(popen: subprocess.Popen[bytes]) -> None:
    """End the child gently if possible: EOF on its stdin, then SIGTERM, then SIGKILL."""
    for stream in (popen.stdin, popen.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):  # a child already gone leaves a broken pipe
                stream.close()
    if _exited(popen):
        return
    popen.terminate()
    if _exited(popen):
        return
    popen.kill()
    popen.wait()


def _exited(popen: subprocess.Popen[bytes]) -> bool:
    """Whether the child has exited, waiting up to STOP_TIMEOUT for it to."""
    try:
        popen.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return True
