"""Clients of the Cat Facts API: one reply parser, an async client and a sync one.

Both clients keep connections alive across calls (opening one per fact would cost as much as the
fact) and turn every way a request can fail into one of the `UpstreamError`s, so the strategies
only ever see a `Reply` (`reply.py`) or a typed error.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Mapping
from urllib.parse import urljoin

import aiohttp
import urllib3
from multidict import CIMultiDict, CIMultiDictProxy

from catfacts import logs
from catfacts.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRedirected,
    UpstreamTimeout,
)
from catfacts.observe import metrics
from catfacts.observe.timeline import CANCELLED, ERROR, OK, REFUSED, Attempt
from catfacts.upstream.headers import Quota
from catfacts.upstream.reply import Reply as Reply  # noqa: PLC0414 (re-exported, for mypy)

log = logging.getLogger(__name__)

FACT_PATH = "/fact"
HEADERS = {"Accept": "application/json", "User-Agent": "catfacts/0.1"}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
MAX_HOPS = 5  # redirects followed for one fact before it fails


def parse_reply(
    status: int, headers: Mapping[str, str], body: bytes, url: str = FACT_PATH
) -> Reply:
    """Return the fact in an upstream answer to `url`, or raise the error that explains its
    absence (a redirect among them: where to ask next)."""
    if status == 200:
        try:
            fact = json.loads(body)["fact"]
        except (ValueError, TypeError, KeyError, RecursionError):
            fact = None
        if isinstance(fact, str):
            return Reply.unread(fact, headers)
        raise UpstreamBadResponse("the upstream answered 200 without a fact").with_quota(
            Quota.from_headers(headers)
        )
    quota = Quota.from_headers(headers)
    location = headers.get("Location") if status in REDIRECTS else None
    if location:
        raise UpstreamRedirected(
            f"the upstream answered {status} (redirect)",
            urljoin(url, location),
            permanent=status in PERMANENT,
        ).with_quota(quota)
    if status == 429:
        wait = quota.retry_after
        raise UpstreamRateLimited(
            f"the upstream rate limit is reached (429); retry after {wait} s"
            if wait is not None
            else "the upstream rate limit is reached (429)",
            retry_after=wait,
        ).with_quota(quota)
    raise UpstreamBadResponse(f"the upstream answered {status}").with_quota(quota)


class AsyncUpstream:
    """The async client: one aiohttp session per process and use, created on the background loop.

    It never resends a request on its own: each request reaches the upstream at most once, and
    a redirect is an answer (`UpstreamRedirected`) for the caller to follow with a request of
    its own, so a limiter counts every hop. A permanent one moves `url` for good. At most
    `connections` requests are out at once; the others wait here, before they are sent, so a
    timeline shows that wait as queueing rather than as a slow answer.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float,
        connections: int = 100,
        strategy: str = "all_at_once",
        follow_redirects: bool = True,
    ) -> None:
        self.url = base_url + FACT_PATH
        self.timeout = timeout
        self.strategy = strategy  # the metrics' label
        self.connections = connections
        self.follow_redirects = follow_redirects  # False: the caller follows, hop by hop
        self._session: aiohttp.ClientSession | None = None
        self._free: asyncio.Semaphore | None = None

    async def fetch_fact(
        self,
        index: int,
        level: int = logging.INFO,
        attempt: Attempt | None = None,
        url: str | None = None,
    ) -> Reply:
        """GET one fact (from `url`, where a redirect pointed); `index` numbers it in the log,
        and `attempt` records its life. Redirects are followed here unless `follow_redirects`
        is off."""
        for _ in range(MAX_HOPS):
            try:
                return await self._get(index, level, attempt, url or self.url)
            except UpstreamRedirected as moved:
                if not self.follow_redirects:
                    raise
                url = moved.location
        raise _too_many_redirects()

    async def _get(self, index: int, level: int, attempt: Attempt | None, url: str) -> Reply:
        session, free = self._open()
        async with free:
            if attempt is not None:
                attempt.send()
            detail = log.isEnabledFor(level)  # once: a large call logs at DEBUG, usually off
            if detail:
                log.log(level, "upstream #%d sent", index)
            started = time.perf_counter()
            try:
                headers = _async_headers(logs.request_id.get())
                get = session.get(url, headers=headers, allow_redirects=False)
                async with get as response:
                    body = await response.read()
                    status = response.status
            except TimeoutError:
                metrics.upstream_answered(self.strategy, "timeout")
                raise _failed(index, UpstreamTimeout(_timed_out(self.timeout)), attempt) from None
            except aiohttp.ClientError as error:
                metrics.upstream_answered(self.strategy, "unreachable")
                raise _failed(index, UpstreamTimeout(_unreachable(error)), attempt) from None
            except asyncio.CancelledError:
                if attempt is not None:
                    attempt.answer(None, CANCELLED)  # the caller hung up, or the call ended
                raise
        metrics.upstream_answered(self.strategy, status)
        if detail:
            _log_answer(level, index, status, started)
        try:
            return _parsed(index, status, response.headers, body, attempt, url)
        except UpstreamRedirected as moved:
            self._moved(url, moved)
            raise

    def _moved(self, url: str, redirect: UpstreamRedirected) -> None:
        """A permanent redirect of the fact URL: ask the new one directly from now on."""
        if redirect.permanent and url == self.url and redirect.location != self.url:
            log.warning("the upstream moved %s for good to %s: using that", url, redirect.location)
            self.url = redirect.location

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        if self._session is not None and self._free is not None:
            return self._session, self._free
        # The pool bounds the sockets we hold open; callers beyond it queue for a connection.
        connector = aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=30)
        session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout)
        )
        # aiohttp sends an idempotent request again, once, when a kept-alive connection drops;
        # the upstream may have counted the first. Exactly one arrival per request: the caller
        # retries, with a slot of its own. (aiohttp's own test client sets the same attribute.)
        session._retry_connection = False
        # Created with the session, on the loop that uses it (a restarted loop gets new ones).
        self._session, self._free = session, asyncio.Semaphore(self.connections)
        return session, self._free


class SyncUpstream:
    """The sync client: a thread-safe urllib3 pool, so each fact reuses a keep-alive connection."""

    def __init__(self, base_url: str, timeout: float, connections: int = 16) -> None:
        self.url = base_url + FACT_PATH
        self.timeout = timeout
        self.strategy = "one_by_one"  # the metrics' label
        self._pool = urllib3.PoolManager(
            maxsize=connections, timeout=urllib3.Timeout(total=timeout), retries=False
        )

    def fetch_fact(
        self, index: int, level: int = logging.INFO, attempt: Attempt | None = None
    ) -> Reply:
        """GET one fact, following redirects (a permanent one for good); `index` numbers it in
        the log, and `attempt` records its life."""
        url = self.url
        for _ in range(MAX_HOPS):
            try:
                return self._get(index, level, attempt, url)
            except UpstreamRedirected as moved:
                if moved.permanent and url == self.url:
                    log.warning("the upstream moved %s for good to %s", url, moved.location)
                    self.url = moved.location
                url = moved.location
        raise _too_many_redirects()

    def _get(self, index: int, level: int, attempt: Attempt | None, url: str) -> Reply:
        if attempt is not None:
            attempt.send()
        log.log(level, "upstream #%d sent", index)
        started = time.perf_counter()
        try:
            response = self._pool.request("GET", url, headers=_traced(HEADERS), redirect=False)
        except urllib3.exceptions.NewConnectionError as error:  # before its base, TimeoutError
            metrics.upstream_answered(self.strategy, "unreachable")
            raise _failed(index, UpstreamTimeout(_unreachable(error)), attempt) from None
        except urllib3.exceptions.TimeoutError:
            metrics.upstream_answered(self.strategy, "timeout")
            raise _failed(index, UpstreamTimeout(_timed_out(self.timeout)), attempt) from None
        except urllib3.exceptions.HTTPError as error:
            metrics.upstream_answered(self.strategy, "unreachable")
            raise _failed(index, UpstreamTimeout(_unreachable(error)), attempt) from None
        metrics.upstream_answered(self.strategy, response.status)
        _log_answer(level, index, response.status, started)
        return _parsed(index, response.status, response.headers, response.data, attempt, url)

    def close(self) -> None:
        self._pool.clear()


def _too_many_redirects() -> UpstreamBadResponse:
    return UpstreamBadResponse(f"the upstream redirected more than {MAX_HOPS} times")


def _traced(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "X-Request-ID": logs.request_id.get()}


@functools.lru_cache(maxsize=64)
def _async_headers(request_id: str) -> CIMultiDictProxy[str]:
    """`_traced(HEADERS)` as aiohttp takes it fastest, built once per call, not per request.

    A dict is copied into a new `CIMultiDict` on every request (a few microseconds of a large
    call's every request); a read-only one is only read. Every request of one call carries the
    same id, and concurrent calls are few: a small cache holds them all.
    """
    return CIMultiDictProxy(CIMultiDict({**HEADERS, "X-Request-ID": request_id}))


def _timed_out(timeout: float) -> str:
    return f"the upstream did not answer within {timeout:g} s"


def _unreachable(error: Exception) -> str:
    return f"the upstream cannot be reached ({type(error).__name__})"


def _log_answer(level: int, index: int, status: int, started: float) -> None:
    log.log(level, "upstream #%d -> %d in %.1f ms", index, status, _ms_since(started))


def _parsed(  # noqa: PLR0917
    index: int,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    attempt: Attempt | None,
    url: str,
) -> Reply:
    try:
        reply = parse_reply(status, headers, body, url)
    except UpstreamError as error:
        raise _failed(index, error, attempt, status) from None
    if attempt is not None:
        attempt.answer(status, OK)
    return reply


def _failed(
    index: int, error: UpstreamError, attempt: Attempt | None, status: int | None = None
) -> UpstreamError:
    log.debug("upstream #%d failed: %s", index, error.message)
    if attempt is not None:
        attempt.answer(status, REFUSED if isinstance(error, UpstreamRateLimited) else ERROR)
    return error


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
