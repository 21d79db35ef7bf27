"""The background event loop: one per process, persistent, and stopped cleanly."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from catfacts.background import BackgroundLoop
from catfacts.errors import ServiceUnavailable, UpstreamTimeout


async def _thread_id() -> int:
    return threading.get_ident()


def test_every_call_runs_on_the_same_loop_thread_not_the_callers() -> None:
    loop = BackgroundLoop()
    try:
        first, second = loop.run(_thread_id()), loop.run(_thread_id())
        assert first == second != threading.get_ident()
    finally:
        loop.stop()


def test_stop_runs_the_closers_and_ends_the_thread() -> None:
    loop = BackgroundLoop()
    closed = []

    async def close() -> None:
        closed.append(True)

    loop.on_stop(close)
    loop.run(asyncio.sleep(0))
    assert loop.running
    loop.stop()
    assert [loop.running, closed] == [False, [True]]
    loop.stop()  # a second stop is harmless


def test_stop_ends_calls_in_flight_with_a_clear_error() -> None:
    loop = BackgroundLoop()
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    errors: list[Exception] = []

    def caller() -> None:
        try:
            loop.run(forever())
        except Exception as error:
            errors.append(error)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(5)
    loop.stop()
    thread.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], ServiceUnavailable)


def test_a_call_that_outlives_its_timeout_is_cancelled_with_a_504() -> None:
    loop = BackgroundLoop()
    try:
        with pytest.raises(UpstreamTimeout):
            loop.run(asyncio.sleep(30), timeout=0.2)
        assert loop.run(asyncio.sleep(0, "still serving")) == "still serving"
    finally:
        loop.stop()


def test_a_caller_of_a_loop_that_stopped_answering_gets_a_503_not_a_hang() -> None:
    loop = BackgroundLoop(liveness=0.2)
    release = threading.Event()

    async def stuck() -> None:
        release.wait(10)  # blocks the whole loop, as a bug would

    try:
        with pytest.raises(ServiceUnavailable, match="not responding"):
            loop.run(stuck())
    finally:
        release.set()
        loop.stop()


def test_a_process_that_served_async_calls_exits_promptly_and_cleanly(upstream_url: str) -> None:
    script = textwrap.dedent(
        f"""
        from catfacts import create_app
        client = create_app({{"upstream_url": "{upstream_url}"}}).test_client()
        assert len(client.get("/cat_async/3").json) == 3
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert "Unclosed" not in done.stderr
    assert "Traceback" not in done.stderr
