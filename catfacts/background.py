"""The process's one background event loop, where all async upstream work runs.

An async Flask view gets a fresh loop per request, so nothing async could outlive a request.
Instead each process runs one loop on a daemon thread, started on first use (so a gunicorn worker
starts its own after the fork), and views hand it coroutines. The long-lived HTTP session and the
limited strategy's dispatcher live here. The thread is a daemon so it never keeps the process
alive, and `stop` (also run at exit) closes what was opened on it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from catfacts.errors import ServiceUnavailable, UpstreamTimeout, shutting_down

log = logging.getLogger(__name__)
T = TypeVar("T")

LIVENESS = 10.0  # seconds a waiting caller trusts the loop before it checks the loop answers


class BackgroundLoop:
    """Run coroutines on a persistent event loop owned by this process."""

    def __init__(self, name: str = "catfacts-loop", liveness: float = LIVENESS) -> None:
        self._name = name
        self._liveness = liveness
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def on_stop(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Register a coroutine function to await on the loop when it stops."""
        self._closers.append(closer)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coroutine` on the loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._ensure_started())

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the loop and wait for its result in the calling thread.

        However long the work may take, the wait is bounded: every `liveness` seconds the loop
        must answer, or the caller gets a 503 rather than a thread that waits forever.
        """
        future = self.submit(coroutine)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                left = self._liveness
                if deadline is not None:
                    left = min(deadline - time.monotonic(), left)
                try:
                    return future.result(max(left, 0.0))
                except TimeoutError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise UpstreamTimeout(
                            f"the call did not finish within {timeout:g} s"
                        ) from None
                    if not self.responsive():
                        raise ServiceUnavailable("the background loop is not responding") from None
        except concurrent.futures.CancelledError:
            raise shutting_down() from None
        finally:
            future.cancel()

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback(*args)` on the loop, from any thread (a signal handler too)."""
        with self._lock:
            loop = self._loop if self._pid == os.getpid() else None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    def responsive(self) -> bool:
        """Does the loop run a trivial task within the liveness bound?"""
        try:
            self.submit(asyncio.sleep(0)).result(self._liveness)
        except (TimeoutError, concurrent.futures.CancelledError, RuntimeError):
            return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what is running, run the closers, and end the thread. Safe to call twice."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or self._pid != os.getpid():
                return
            self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            log.warning("background loop did not shut down within %.1f s", timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=self._name, daemon=True
                )
                self._pid = os.getpid()
                self._thread.start()
                atexit.register(self.stop)
            return self._loop

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:
                log.exception("error while closing %r", closer)
