"""Notice a caller who hangs up, so that a call nobody will read stops spending the budget.

A WSGI view cannot see its client go away until it writes. The server hands us the client's
socket, though (`gunicorn.socket`, `werkzeug.socket`): while the view waits, the background loop
watches a duplicate of it, and end-of-file (the caller closed) cancels the work at once. The
duplicate keeps the watched descriptor ours until the watch ends, whatever the server does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import select
import socket
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from catfacts.background import BackgroundLoop
from catfacts.errors import ClientGone

log = logging.getLogger(__name__)
T = TypeVar("T")

_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
PIPELINED_CHECK = 1.0  # seconds between looks when the caller sent its next request already
# Waiting for the background loop a little longer than the work's own bound turns a loop that is
# somehow stuck into a clear error rather than a hung request.
LOOP_GRACE = 5.0


def client_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    """The caller's connection, where the server tells us it."""
    for key in _SOCKET_KEYS:
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def hung_up(sock: socket.socket | None) -> bool:
    """Has the caller closed its side, or reset? Reads nothing, and sees the close even behind
    bytes of a next request that the server has not read yet (Linux's POLLRDHUP)."""
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


async def cancel_on_hangup(work: Coroutine[Any, Any, T], sock: socket.socket | None) -> T:
    """Await `work`, cancelling it if the caller hangs up first (then `ClientGone`)."""
    if sock is None:
        return await work
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    watched = sock.dup()
    gone = False
    timer: asyncio.TimerHandle | None = None

    def hang_up() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    def readable() -> None:
        # Readable means end-of-file, or the caller's next request (pipelined) already waiting.
        # Level-triggered, that would wake us forever: look behind those bytes once a second.
        loop.remove_reader(watched)
        look()

    def look() -> None:
        nonlocal timer
        if hung_up(watched):
            hang_up()
        else:
            timer = loop.call_later(PIPELINED_CHECK, look)

    loop.add_reader(watched, readable)
    try:
        return await task
    except asyncio.CancelledError:
        if gone:
            raise ClientGone("the caller hung up; its queued requests were dropped") from None
        raise
    finally:
        if timer is not None:
            timer.cancel()
        loop.remove_reader(watched)
        watched.close()
        if not task.done():
            task.cancel()


class CallerLoop:
    """The background loop as one caller's view reaches it (a strategies' `Runner`): whatever it
    runs there ends when the caller hangs up."""

    def __init__(self, loop: BackgroundLoop, caller: socket.socket | None) -> None:
        self._loop = loop
        self._caller = caller

    def run(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        bound = None if timeout is None else timeout + LOOP_GRACE
        return self._loop.run(cancel_on_hangup(work, self._caller), bound)

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return self._loop.submit(cancel_on_hangup(work, self._caller))

    def responsive(self) -> bool:
        return self._loop.responsive()
