"""Serving the emulator until it is told to stop: by SIGTERM, SIGINT, or the end of its stdin.

A parent that starts the emulator learns its URL from the one line it writes on stdout, and can
count on it ending with the parent, whose end closes the emulator's stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator

from aiohttp import web

READY_PREFIX = "catfacts-emulator listening on "
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Seconds that answers in flight get to finish on stop: stopping must not hold the parent up.
SHUTDOWN_TIMEOUT = 1.0

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The emulator could not start serving; the message says why, in one line."""


async def serve(
    app: web.Application, *, host: str, port: int, exit_with_stdin: bool, access_log: bool
) -> None:
    """Serve `app` on host:port, announce the URL on stdout, and return once told to stop."""
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    try:
        async with _stop_requested(exit_with_stdin) as stop:
            url = await _listen(runner, host, port)
            log.info("listening on %s", url)
            sys.stdout.write(f"{READY_PREFIX}{url}\n")
            sys.stdout.flush()
            await stop.wait()
            log.info("stopping")
    finally:
        await runner.cleanup()


async def _listen(runner: web.AppRunner, host: str, port: int) -> str:
    """Start listening and return the URL; port 0 picks a free port."""
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    bound_port = runner.addresses[0][1]
    return f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"


@contextlib.asynccontextmanager
async def _stop_requested(exit_with_stdin: bool) -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM, by SIGINT and, if `exit_with_stdin`, by the end of stdin."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    stdin: asyncio.BaseTransport | None = None
    try:
        if exit_with_stdin:
            stdin = await _watch_stdin(stop)
        yield stop
    finally:
        if stdin is not None:
            stdin.close()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def _watch_stdin(stop: asyncio.Event) -> asyncio.BaseTransport:
    """Have the event loop set `stop` when stdin reaches its end; what is read is ignored."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.connect_read_pipe(lambda: _EndOfInput(stop), sys.stdin)
    except ValueError as error:
        raise StartupError(f"--exit-with-stdin needs stdin to be a pipe: {error}") from None
    return transport


class _EndOfInput(asyncio.Protocol):
    """Sets `stop` when the pipe it reads is closed."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()
