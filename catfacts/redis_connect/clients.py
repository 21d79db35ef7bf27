"""Clients of the Redis a URL names, async for the limiter and blocking for checks; the same
Redis as `limits` (flask-limiter) options; and `check`, which asks it once whether it serves."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.asyncio.sentinel as aiosentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.retry import Retry

from catfacts.redis_connect.forms import CLUSTER, SENTINEL, SERVER, address, parse
from catfacts.redis_connect.verdicts import ERRORS, Verdict, explain, of_role, verdict


# One immediate retry on a broken connection (a pooled one fails once after a restart), never
# on a time-out: that would double the wait. A check's fresh connection is not retried at all.
def _retry(retries: int = 1) -> Retry:
    return Retry(NoBackoff(), retries, supported_errors=(redis.ConnectionError,))


def _async_retry() -> AsyncRetry:
    return AsyncRetry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))


class AsyncClient:
    """A redis.asyncio client of the form a URL names, closed with every connection it made."""

    def __init__(self, url: str, timeout: float = 1.0) -> None:
        self.form = parse(url)
        self.timeout = timeout
        form, options = self.form, self.form.connection_options(timeout)
        self._sentinel: aiosentinel.Sentinel | None = None
        self.redis: aioredis.Redis | aiocluster.RedisCluster
        if form.kind == CLUSTER:
            nodes = [aiocluster.ClusterNode(host, port) for host, port in form.nodes]
            self.redis = aiocluster.RedisCluster(
                startup_nodes=nodes, retry=_async_retry(), **options
            )
        elif form.kind == SENTINEL:
            assert form.service is not None
            watchers = {**form.sentinel_options(timeout), "retry": _async_retry()}
            self._sentinel = aiosentinel.Sentinel(  # type: ignore[no-untyped-call]
                list(form.nodes), sentinel_kwargs=watchers, **options
            )
            self.redis = self._sentinel.master_for(form.service, db=form.db, retry=_async_retry())
        elif form.socket is not None:
            self.redis = aioredis.Redis(
                unix_socket_path=form.socket, db=form.db, retry=_async_retry(), **options
            )
        else:
            (host, port), *_ = form.nodes
            self.redis = aioredis.Redis(
                host=host, port=port, db=form.db, retry=_async_retry(), **options
            )

    def register_script(self, text: str) -> AsyncScript:
        return self.redis.register_script(text)

    def explain(self, error: BaseException) -> str:
        return explain(error, self.form, self.timeout)

    async def aclose(self) -> None:
        await self.redis.aclose()
        for sentinel in self._sentinel.sentinels if self._sentinel else ():
            await sentinel.aclose()


class SyncClient:
    """The same, blocking: for start-up and readiness checks."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.form = parse(url)
        form, options = self.form, self.form.connection_options(timeout)
        self._sentinel: redis.sentinel.Sentinel | None = None
        self.redis: redis.Redis | redis.cluster.RedisCluster
        if form.kind == CLUSTER:  # connects at once: it must learn the cluster's slots
            nodes = [
                redis.cluster.ClusterNode(host, port)  # type: ignore[no-untyped-call]
                for host, port in form.nodes
            ]
            self.redis = redis.cluster.RedisCluster(startup_nodes=nodes, retry=_retry(0), **options)
        elif form.kind == SENTINEL:
            assert form.service is not None
            watchers = {**form.sentinel_options(timeout), "retry": _retry(0)}
            self._sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
                list(form.nodes), sentinel_kwargs=watchers, **options
            )
            self.redis = self._sentinel.master_for(  # type: ignore[no-untyped-call]
                form.service, db=form.db, retry=_retry(0)
            )
        elif form.socket is not None:
            self.redis = redis.Redis(
                unix_socket_path=form.socket, db=form.db, retry=_retry(0), **options
            )
        else:
            (host, port), *_ = form.nodes
            self.redis = redis.Redis(host=host, port=port, db=form.db, retry=_retry(0), **options)

    def close(self) -> None:
        self.redis.close()
        for sentinel in self._sentinel.sentinels if self._sentinel else ():
            sentinel.close()


def for_limits(url: str, timeout: float = 1.0) -> tuple[str, dict[str, Any]]:
    """The storage URI and options that make `limits` (flask-limiter) use the Redis `url` names,
    as `AsyncClient` does: Sentinel's and TLS options, short time-outs, the master for reads."""
    form = parse(url)
    scheme = urlsplit(url).scheme.lower()
    # As the limiter: short time-outs, one immediate retry (redis-py's default is ten, backing off).
    quick = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": _retry()}
    if form.kind == SERVER:
        # `limits` hands the URL itself to redis-py, which reads its password, db and TLS query.
        if scheme == "unix":
            url = "redis+unix" + url[len(scheme) :]
        return url, quick
    options = {**form.connection_options(timeout), **quick}
    hosts = ",".join(address(host, port) for host, port in form.nodes)
    if form.kind == CLUSTER:
        return f"redis+cluster://{hosts}", options
    sentinel = {**form.sentinel_options(timeout), "retry": _retry()}
    sentinel["username"] = None  # else `limits` gives the Sentinels the master's credentials
    options.update(db=form.db, sentinel_kwargs=sentinel, use_replicas=False)
    return f"redis+sentinel://{hosts}/{form.service}", options


def check(url: str, timeout: float = 2.0) -> Verdict | None:
    """Ask the Redis `url` names whether the limiter can use it: None if so, else why not."""
    try:
        form = parse(url)
    except ValueError as error:
        return Verdict(f"CATFACTS_REDIS_URL is not usable: {error}", True)
    client: SyncClient | None = None
    try:
        client = SyncClient(url, timeout)
        client.redis.ping()
        if isinstance(client.redis, redis.cluster.RedisCluster):
            info = client.redis.cluster_info()
            if info.get("cluster_state") != "ok":
                state = info.get("cluster_state")
                return Verdict(f"{form.where} says its state is {state!r}, not 'ok'", False)
            return None
        return of_role(client.redis, form)
    except ERRORS as error:
        return verdict(error, form, timeout)
    finally:
        if client is not None:
            client.close()
