"""The `catfacts` command line against a running service: `fetch N` and `serve`.

`python -m catfacts` runs the same function as the installed `catfacts` script. The bar is drawn
only on a terminal, so the tests give the command a pseudo-terminal for its stderr.
"""

from __future__ import annotations

import importlib
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.processes import catfacts_env
from catfacts.emulator.process import EmulatorProcess
from tests.support import StartService, closed_port_url, wait_until

CATFACTS = [sys.executable, "-m", "catfacts"]
SUMMARY = re.compile(
    r"(\d+) of (\d+) facts in [\d.]+ s; ideal [\d.]+ s \([+-]\d+%\); 429s: (\d+); ([a-z ]+), "
    r"worker \d+"
)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, terminal: bool = False, timeout: float = 60) -> Run:
    """Run `catfacts ARGS`; with `terminal`, its stderr is a pseudo-terminal 120 columns wide."""
    env = catfacts_env(COLUMNS="120", TERM="xterm")
    if not terminal:
        command = [*CATFACTS, *args]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return Run(done.returncode, done.stdout, done.stderr)
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [*CATFACTS, *args], env=env, stdout=subprocess.PIPE, stderr=follower, text=True
    ) as process:
        os.close(follower)
        screen: list[bytes] = []
        reader = threading.Thread(target=_read_all, args=(leader, screen))
        reader.start()
        stdout, _ = process.communicate(timeout=timeout)
        reader.join(timeout)
    os.close(leader)
    return Run(process.returncode, stdout, b"".join(screen).decode(errors="replace"))


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        into.append(chunk)


def test_fetch_shows_progress_then_prints_the_facts_and_a_one_line_summary(
    running_service: StartService,
) -> None:
    url, _ = running_service()
    result = run_cli("fetch", "45", "--strategy", "limited", "--url", url, terminal=True)
    assert result.code == 0, result.stderr
    facts = result.stdout.splitlines()
    assert len(facts) == 45
    assert all(fact.strip() for fact in facts)
    # Frames of the bar while the facts came in (45 at 20 a second take over two seconds).
    counts = {int(done) for done in re.findall(r"(\d+)/45", result.stderr)}
    assert any(0 < done < 45 for done in counts), result.stderr
    assert "━" in result.stderr
    summary = SUMMARY.search(result.stderr)
    assert summary is not None, result.stderr
    assert summary.groups() == ("45", "45", "0", "limited")


def test_fetch_with_another_strategy_says_which(running_service: StartService) -> None:
    url, _ = running_service()
    result = run_cli("fetch", "3", "--strategy", "all_at_once", "--url", url)
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    summary = SUMMARY.search(result.stderr)
    assert summary is not None
    assert summary.group(4) == "all at once"


def test_without_a_terminal_the_output_has_no_bar(running_service: StartService) -> None:
    url, _ = running_service()
    result = run_cli("fetch", "3", "--url", url)
    assert result.code == 0
    assert len(result.stderr.splitlines()) == 1
    assert SUMMARY.fullmatch(result.stderr.strip())


def test_a_service_that_is_down_is_one_clear_line_and_exit_3() -> None:
    url = closed_port_url()
    result = run_cli("fetch", "5", "--url", url)
    assert result.code == 3
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"catfacts: cannot reach the catfacts service at {url}: connection refused "
        "(is it running? `catfacts serve` starts it)"
    ]


def test_a_refusal_is_the_services_own_words_and_exit_1(running_service: StartService) -> None:
    url, _ = running_service(CATFACTS_MAX_FACTS="10")
    result = run_cli("fetch", "11", "--url", url)
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "catfacts: the service answered 400: n must be at most 10 (CATFACTS_MAX_FACTS); got 11"
    ]


def test_a_failure_midway_prints_the_facts_so_far_the_summary_and_the_error(
    running_service: StartService, emulator: EmulatorProcess
) -> None:
    url, _ = running_service()
    emulator.control.configure(plan=["ok", "ok", "error"])
    result = run_cli("fetch", "5", "--strategy", "one_by_one", "--url", url)
    assert result.code == 1
    assert len(result.stdout.splitlines()) == 2
    lines = result.stderr.splitlines()
    summary = SUMMARY.fullmatch(lines[0])
    assert summary is not None
    assert summary.groups()[:2] == ("2", "5")
    assert lines[1:] == ["catfacts: the service failed the call: the upstream answered 500"]


def test_something_that_is_not_catfacts_is_said_plainly() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")

        thread = threading.Thread(target=answer)
        thread.start()
        result = run_cli("fetch", "2", "--url", f"http://127.0.0.1:{port}")
        thread.join(5)
    assert result.code == 1
    assert result.stderr.splitlines() == [
        f"catfacts: http://127.0.0.1:{port} answered 404, not as a catfacts service would"
    ]


def test_serve_takes_the_same_flags_as_python_m_catfacts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port))
    assert result.code != 0
    assert result.stderr.splitlines() == [
        f"catfacts: CATFACTS_PORT={port}: cannot listen on 127.0.0.1:{port}: is already in use"
    ]


def test_the_project_installs_a_catfacts_script_that_runs_the_command_line() -> None:
    project = tomllib.loads(Path("pyproject.toml").read_text())
    module, _, function = project["project"]["scripts"]["catfacts"].partition(":")
    assert getattr(importlib.import_module(module), function).__module__ == "catfacts.cli"


def test_ctrl_c_is_one_line_exit_130_and_the_service_stops_spending(
    running_service: StartService, emulator: EmulatorProcess
) -> None:
    url, _ = running_service()
    command = [*CATFACTS, "fetch", "200", "--url", url]
    with subprocess.Popen(
        command, env=catfacts_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        wait_until(lambda: emulator.control.stats()["total"] >= 20)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    interrupted_at = time.monotonic()
    assert process.returncode == 130
    assert stderr.splitlines() == [
        "catfacts: interrupted; the service drops the requests still queued"
    ]
    time.sleep(1.5)  # a window and a half: the next burst would have come
    assert max(at for at, _ in emulator.control.arrivals()) < interrupted_at + 0.5
    assert emulator.control.stats()["total"] < 200


def test_fetch_shows_the_services_eta_and_says_when_it_waits_for_the_window(
    running_service: StartService,
) -> None:
    url, _ = running_service(CATFACTS_RATE_LIMIT="5 per 4 seconds")
    result = run_cli("fetch", "8", "--url", url, terminal=True)  # 5 now, 3 a window later
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 8
    assert re.search(r"waiting for the upstream's window, resets in [1-4] s", result.stderr), (
        result.stderr
    )
    assert re.search(r"eta 0:00:0[0-4]", result.stderr), result.stderr
