"""Notice a caller who hangs up, so that a call nobody will read stops spending the budget.

A WSGI view cannot see its client go away until it writes. The server hands us the client's
socket, though (`gunicorn.socket`, `werkzeug.socket`): while the view waits, the background loop
watches a duplicate of it, and end-of-file (the caller closed) cancels the work at once. The
duplicate keeps the watched descriptor ours until the watch ends, whatever the server does.

How a hang-up is seen depends on the platform, so it is feature-detected (`POLLRDHUP`, once):

- Linux: `poll()` for `POLLRDHUP`. It reads nothing, and it sees the close even behind bytes of
  a next request (pipelined) that the server has not read yet.
- Elsewhere (macOS, the BSDs; `select()` where there is no `poll()`): when the socket is
  readable, a non-blocking one-byte `recv(MSG_PEEK)`. `b""` is end-of-file: the caller closed.
  A byte, or nothing to read yet, means it is still there. The peek takes nothing, so the server
  still reads a next request whole. What it cannot see is a close *behind* such unread bytes:
  that caller is noticed only when its answer is written. `POLLHUP`/`POLLERR` (a reset) count
  as gone on both paths.

  Why not kqueue's `EV_EOF`, which sees behind the bytes on the BSDs: every look would open a
  kqueue descriptor, which is just what runs out under descriptor pressure, and it is a path the
  Linux CI cannot run. The peek needs no descriptor and runs in the suite (`POLLRDHUP` hidden).

If the watch cannot be set up (the duplicate fails with `EMFILE` under descriptor pressure, the
loop refuses the descriptor), the call is refused with a JSON 503 before anything is sent
upstream, and its work never starts. Not watching instead would let the call go on fetching for
a caller who may have left, and the pressure that makes the watch fail is just what a client
holding many connections open and then hanging up causes: refusing sheds that load and keeps
the promise that nobody's call spends for nobody. The first refusal is logged; the later ones
show in the access log as 503s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import select
import socket
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from catfacts.background import BackgroundLoop
from catfacts.errors import ClientGone, ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
PIPELINED_CHECK = 1.0  # seconds between looks when the caller sent its next request already
# Waiting for the background loop a little longer than the work's own bound turns a loop that is
# somehow stuck into a clear error rather than a hung request.
LOOP_GRACE = 5.0
# Linux's "the peer closed its side", seen behind unread bytes; None where the platform lacks it
# (then the peek decides). The tests set it to None to run the portable path on Linux.
POLLRDHUP: int | None = getattr(select, "POLLRDHUP", None)
_MSG_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)  # the peek never blocks, even without
_NO_FDS = (errno.EMFILE, errno.ENFILE)
_UNWATCHABLE_RETRY = 1  # seconds: descriptors are freed as calls end
_warned: list[str] = []  # once a process: the first refusal for want of a watch


def client_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    """The caller's connection, where the server tells us it."""
    for key in _SOCKET_KEYS:
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def hung_up(sock: socket.socket | None) -> bool:
    """Has the caller closed its side, or reset? Reads nothing; with `POLLRDHUP` it sees the close
    even behind bytes of a next request that the server has not read yet (see the module)."""
    if sock is None:
        return False
    if sock.fileno() < 0:  # closed under us: nobody will read an answer on it
        return True
    if POLLRDHUP is not None:
        poller = select.poll()
        poller.register(sock, POLLRDHUP | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(0))
    return _peeked_eof(sock)


def _peeked_eof(sock: socket.socket) -> bool:
    """The portable look: readable, and a peek finds end-of-file (or an error) there."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        events = poller.poll(0)
        if not events:
            return False
        if events[0][1] & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            return True
    elif not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | _MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError, TimeoutError):
        return False  # nothing to read after all: still there
    except OSError:
        return True  # reset, not connected: nobody to answer


def _unwatchable(error: OSError | ValueError) -> ServiceUnavailable:
    """The refusal of a call whose caller cannot be watched (see the module)."""
    reason = "out of file descriptors" if getattr(error, "errno", None) in _NO_FDS else error
    if not _warned:
        _warned.append(type(error).__name__)
        log.warning(
            "cannot watch a caller's connection for a hang-up (%s): refusing such calls with "
            "a 503 before anything is sent; later refusals show only in the access log",
            reason,
        )
    return ServiceUnavailable(
        f"the service cannot take the call now ({reason}); nothing was fetched",
        retry_after=_UNWATCHABLE_RETRY,
    )


class _Watch:
    """A duplicate of the caller's socket, looked at from the loop: `on_gone()` when it hangs up.

    Made before the work starts; if it cannot be, `ServiceUnavailable` (see the module)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, on_gone: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._on_gone = on_gone
        self._timer: asyncio.TimerHandle | None = None
        try:
            self._sock = sock.dup()
        except OSError as error:
            raise _unwatchable(error) from None
        try:
            loop.add_reader(self._sock, self._readable)
        except NotImplementedError:  # a loop without readiness callbacks: look once a second
            self._look()
        except (OSError, ValueError) as error:
            self._sock.close()
            raise _unwatchable(error) from None

    def _readable(self) -> None:
        # Readable means end-of-file, or the caller's next request (pipelined) already waiting.
        # Level-triggered, that would wake us forever: look behind those bytes once a second.
        self._loop.remove_reader(self._sock)
        self._look()

    def _look(self) -> None:
        if hung_up(self._sock):
            self._on_gone()
        else:
            self._timer = self._loop.call_later(PIPELINED_CHECK, self._look)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self._sock)
        self._sock.close()


async def cancel_on_hangup(work: Coroutine[Any, Any, T], sock: socket.socket | None) -> T:
    """Await `work`, cancelling it if the caller hangs up first (then `ClientGone`).

    The caller is watched before the work starts: if it cannot be, the work never runs (a 503)."""
    if sock is None:
        return await work
    task: asyncio.Future[T] | None = None
    gone = False

    def hang_up() -> None:
        nonlocal gone
        gone = True
        if task is not None:
            task.cancel()

    try:
        watch = _Watch(asyncio.get_running_loop(), sock, hang_up)
    except BaseException:
        work.close()  # never started: nothing was sent
        raise
    task = asyncio.ensure_future(work)
    if gone:  # seen at the first look, before the work began
        task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        this = asyncio.current_task()
        # Cancelled itself (a stream closed, a bound passed): no one awaits an error from it.
        if gone and not (this is not None and this.cancelling()):
            raise ClientGone("the caller hung up; its queued requests were dropped") from None
        raise
    finally:
        watch.close()
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
