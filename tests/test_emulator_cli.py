"""The emulator as a command and a child process: arguments, start-up errors, stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from catfacts.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = [sys.executable, "-m", "catfacts.emulator"]


def run_emulator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EMULATOR, *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=False
    )


def test_help_describes_the_options() -> None:
    result = run_emulator("--help")
    assert result.returncode == 0
    assert "--rate-limit" in result.stdout
    assert "--exit-with-stdin" in result.stdout
    assert "--burst" in result.stdout
    assert "--redirect {temporary,permanent}" in result.stdout
    assert "proxy" in result.stdout


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--rate-limit", "often"], "bad rate limit 'often'"),
        (["--latency", "-1"], "latency must be a number of seconds >= 0"),
        (["--plan", "ok,boom"], "plan must be a list of fates"),
        (["--rate-limit", "20/second;often"], "bad rate limit '20/second;often'"),
        (["--burst", "-1"], "burst must be an integer >= 0"),
        (["--burst", "many"], "argument --burst: invalid int value"),
        (["--redirect", "sometimes"], "argument --redirect: invalid choice"),
        (["--port", "eighty"], "invalid int value"),
    ],
)
def test_a_bad_argument_is_one_line_on_stderr_and_exit_2(args: list[str], complaint: str) -> None:
    result = run_emulator(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert complaint in result.stderr


def test_a_port_in_use_is_one_line_on_stderr_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_emulator("--port", str(port))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def start_listening(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator on a free port; return it and the line it announced itself with."""
    process = subprocess.Popen(
        [*EMULATOR, "--port", "0", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def test_closing_stdin_stops_the_emulator() -> None:
    process, line = start_listening("--exit-with-stdin")
    assert line.startswith("catfacts-emulator listening on http://127.0.0.1:")
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=10) == 0


def test_sigterm_stops_the_emulator_cleanly() -> None:
    process, line = start_listening()
    assert "listening on" in line
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_a_started_process_serves_and_stops_once_and_for_all() -> None:
    with EmulatorProcess.start(rate_limit="2/second") as process:
        assert process.url.startswith("http://127.0.0.1:")
        assert not process.url.endswith("/")
        assert process.control.config()["rate_limit"] == "2/second"
    process.stop()  # a second stop is harmless
    with pytest.raises(ProcessLookupError):  # stopped, and reaped
        os.kill(process.pid, 0)


def test_several_rates_are_taken_from_the_command_line() -> None:
    with EmulatorProcess.start(rate_limit="20/second;1000/hour") as process:
        assert process.control.config()["rate_limit"] == "20/second;1000/hour"
        assert process.control.rate_policies() == [(20, 1.0), (1000, 3600.0)]


def test_a_process_that_cannot_start_raises_with_its_stderr() -> None:
    with pytest.raises(RuntimeError, match="bad rate limit 'never'"):
        EmulatorProcess.start(rate_limit="never")
