"""The hang-up watch on every platform, and when it cannot be set up (`catfacts.web.hangup`).

Judged on the real service (`python -m catfacts`, gunicorn) over real sockets, by what the
emulator saw. Each hang-up case runs twice: with Linux's `POLLRDHUP`, and with it hidden from the
service (a `sitecustomize` on its `PYTHONPATH` deletes `select.POLLRDHUP` before anything is
imported), so the portable peek that macOS and the BSDs use decides. The watch that cannot be set
up is a duplicate that fails with `EMFILE`, injected the same way. (A real lowered
`RLIMIT_NOFILE` trips gunicorn first: its gthread worker opens a selector for each request it
reads, before the view runs, so the limit cannot be set to fail the duplicate alone.)
"""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path

import pytest
import urllib3

from bench.processes import ServiceProcess
from catfacts.emulator.process import EmulatorProcess
from catfacts.strategies import NDJSON
from tests.support import StartService, wait_until

RATE = 50  # per second at the emulator: a long call takes many seconds
HIDE_POLLRDHUP = """\
import select, sys
if hasattr(select, "POLLRDHUP"):
    del select.POLLRDHUP
print("test: POLLRDHUP hidden", file=sys.stderr, flush=True)
"""
FAIL_DUP = """\
import errno, os, socket, sys
def _dup(self):
    raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
socket.socket.dup = _dup
print("test: socket.dup fails with EMFILE", file=sys.stderr, flush=True)
"""
_HTTP = urllib3.PoolManager(retries=False, timeout=30)


def _customized(folder: Path, code: str) -> dict[str, str]:
    """Environment that runs `code` at the start of the service's interpreters."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(code)
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{folder}{os.pathsep}{path}" if path else str(folder)}


DETECTIONS = [
    pytest.param(
        "POLLRDHUP",
        marks=pytest.mark.skipif(
            not hasattr(select, "POLLRDHUP"), reason="the platform has no POLLRDHUP"
        ),
    ),
    "peek",
]


@pytest.fixture(params=DETECTIONS)
def detection(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serve(
    emulator: EmulatorProcess, running_service: StartService, detection: str, tmp_path: Path
) -> tuple[str, ServiceProcess]:
    """The service at RATE/second, with POLLRDHUP hidden on the peek path."""
    emulator.control.configure(rate_limit=f"{RATE}/second")
    env = _customized(tmp_path / "site", HIDE_POLLRDHUP) if detection == "peek" else {}
    # The all-at-once case sends 1000 at once, past what a bounded one may (`overdraft.py`).
    env["CATFACTS_UNLIMITED_STRATEGIES"] = "open"
    url, service = running_service(CATFACTS_RATE_LIMIT=f"{RATE}/second", **env)
    if detection == "peek":
        service.wait_for_line("test: POLLRDHUP hidden")
    return url, service


def spent(emulator: EmulatorProcess, request_id: str) -> int:
    counts = emulator.control.stats()["by_request_id"].get(request_id, {})
    return int(sum(counts.values()))


def hang_up_mid_call(
    url: str, path: str, emulator: EmulatorProcess, *, streamed: bool, pipelined: bool = False
) -> int:
    """Call `path` on a raw connection, hang up once it has spent some, and return the spending
    once it has settled: it must settle within about two seconds."""
    host, port = url.removeprefix("http://").split(":")
    accept = f"Accept: {NDJSON}\r\n" if streamed else ""
    with socket.create_connection((host, int(port))) as caller:
        caller.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Request-ID: gone\r\n{accept}\r\n".encode()
        )
        wait_until(lambda: spent(emulator, "gone") >= 10)
        if streamed:  # the answer has begun: its head and a first line came
            assert caller.recv(65536).startswith(b"HTTP/1.1 200")
        if pipelined:
            caller.sendall(b"GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n")
    hung_up_at = time.monotonic()
    time.sleep(2.0)  # within about a second, plus a look behind pipelined bytes
    settled = spent(emulator, "gone")
    time.sleep(1.5)
    assert spent(emulator, "gone") == settled
    assert time.monotonic() - hung_up_at < 6
    return settled


def assert_no_500(service: ServiceProcess) -> None:
    assert "Traceback" not in service.output, service.output
    assert " 500 " not in service.output, service.output


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize(
    "path", ["/cat/600", "/cat_async_limited/600"], ids=["one_by_one", "limited"]
)
def test_a_caller_who_hangs_up_stops_the_spending(
    serve: tuple[str, ServiceProcess], emulator: EmulatorProcess, path: str, streamed: bool
) -> None:
    url, service = serve
    assert hang_up_mid_call(url, path, emulator, streamed=streamed) < 600
    assert_no_500(service)


def test_an_all_at_once_caller_who_hangs_up_drops_what_is_queued(
    serve: tuple[str, ServiceProcess], emulator: EmulatorProcess
) -> None:
    url, service = serve
    # No 429s, and slow enough answers that most of the 1000 wait for a free connection.
    emulator.control.configure(rate_limit="100000/second", latency=0.2)
    assert hang_up_mid_call(url, "/cat_async/1000", emulator, streamed=False) < 1000
    assert_no_500(service)


def test_a_close_behind_a_pipelined_request_stops_the_spending(
    serve: tuple[str, ServiceProcess], emulator: EmulatorProcess, detection: str
) -> None:
    if detection == "peek":
        # Documented: the peek cannot see a close behind unread bytes (kqueue could, on the BSDs).
        pytest.skip("the portable peek sees such a close only when the answer is written")
    url, service = serve
    path = "/cat_async_limited/600"
    assert hang_up_mid_call(url, path, emulator, streamed=False, pipelined=True) < 600
    assert_no_500(service)


def test_a_caller_still_there_is_served_in_full(
    serve: tuple[str, ServiceProcess], emulator: EmulatorProcess
) -> None:
    url, _ = serve
    emulator.control.configure(rate_limit="100000/second")  # all at once: no 429s to drop
    for path in ("/cat/30", "/cat_async/30", "/cat_async_limited/30"):
        response = _HTTP.request("GET", f"{url}{path}")
        assert response.status == 200, response.data
        assert len(response.json()) == 30


# --- The watch cannot be set up: a JSON 503 before anything is sent --------------------------


def assert_refused_for_want_of_descriptors(response: urllib3.BaseHTTPResponse) -> None:
    assert response.status == 503, response.data
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert "out of file descriptors" in body["error"]
    assert "nothing was fetched" in body["error"]
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_when_the_caller_cannot_be_watched_the_call_is_a_json_503_that_sends_nothing(
    emulator: EmulatorProcess, running_service: StartService, tmp_path: Path, streamed: bool
) -> None:
    url, service = running_service(**_customized(tmp_path / "site", FAIL_DUP))
    service.wait_for_line("test: socket.dup fails with EMFILE")
    headers = {"Accept": NDJSON} if streamed else {}
    for path in ("/cat_async/20", "/cat_async_limited/20"):
        assert_refused_for_want_of_descriptors(
            _HTTP.request("GET", f"{url}{path}", headers=headers)
        )
    time.sleep(0.5)
    assert emulator.control.stats()["total"] == 0  # nothing for nobody, nor for anybody
    # One by one needs no duplicate (it looks between its requests): it is served.
    response = _HTTP.request("GET", f"{url}/cat/3", headers=headers)
    assert response.status == 200
    service.wait_for_line(r"cannot watch a caller's connection .*out of file descriptors")
    assert len([line for line in service.lines if "cannot watch a caller" in line]) == 1
    assert "Traceback" not in service.output
