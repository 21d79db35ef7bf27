"""Redis as it is run: one URL names a server (with a password, over TLS, on a unix socket), a
master that Sentinels watch, or a Cluster, and serves both the shared limiter and the inbound
limit (flask-limiter, through `limits`).

    redis://[[user]:password@]host[:port][/db]
    rediss://[[user]:password@]host[:port][/db][?ssl_ca_certs=/path/ca.pem]     (TLS)
    unix:///path/to/redis.sock[?db=N]                                 (or redis+unix://)
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]
    redis+cluster://[[user]:password@]host:port[,host:port...]       (any node or nodes)
    rediss+sentinel://..., rediss+cluster://...                                 (TLS)

These are the forms of the `limits` package; the few it lacks (a Sentinel's /db and password,
TLS to a Sentinel or a Cluster) `for_limits` turns into its options, so one URL means the same
Redis to both. The password is the data servers'; a Sentinel's own, if it has one, is
`?sentinel_password=`. TLS takes `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs`
(required, optional, none) and `ssl_check_hostname` from the query; nothing else is accepted.

A failure is told as it is, in one sentence naming where (`explain`): a refused password is not
"unreachable", a cluster node named as a server is not a password problem. `check` asks Redis
once, for start-up and readiness. No Flask here: the limiter uses this from the background loop.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.asyncio.sentinel as aiosentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterDownError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.retry import Retry

SERVER, SENTINEL, CLUSTER = "server", "sentinel", "cluster"
_KINDS = {
    "redis": (SERVER, False),
    "rediss": (SERVER, True),
    "unix": (SERVER, False),
    "redis+unix": (SERVER, False),
    "redis+sentinel": (SENTINEL, False),
    "rediss+sentinel": (SENTINEL, True),
    "redis+cluster": (CLUSTER, False),
    "rediss+cluster": (CLUSTER, True),
}
_DEFAULT_PORT = {SERVER: 6379, SENTINEL: 26379, CLUSTER: 6379}
_TLS_OPTIONS = (
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)
_CERT_REQS = ("none", "optional", "required")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
EXAMPLE = "like 'redis://127.0.0.1:6379/0' (see the README for Sentinel, Cluster and TLS)"

# Errors raised by redis-py. RedisClusterException is not a RedisError.
ERRORS: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)


@dataclass(frozen=True)
class RedisForm:
    """What a Redis URL names, checked; never shows the password."""

    kind: str  # SERVER, SENTINEL or CLUSTER
    tls: bool = False
    nodes: tuple[tuple[str, int], ...] = ()  # a server's, the Sentinels' or the cluster's
    socket: str | None = None  # a server on a unix socket
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    db: int = 0
    service: str | None = None  # the master's name, for Sentinel
    sentinel_password: str | None = field(default=None, repr=False)
    tls_options: tuple[tuple[str, Any], ...] = ()

    @property
    def hosts(self) -> str:
        return ", ".join(_address(host, port) for host, port in self.nodes)

    @property
    def where(self) -> str:
        """Redis as a sentence names it: "Redis at 10.0.0.5:6379"."""
        if self.kind == SENTINEL:
            return f"the Redis master {self.service!r} (Sentinel at {self.hosts})"
        if self.kind == CLUSTER:
            return f"the Redis Cluster at {self.hosts}"
        return f"Redis at {self.socket or self.hosts}"

    def connection_options(self, timeout: float) -> dict[str, Any]:
        """The options every connection to a data server takes: short time-outs, credentials."""
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if self.username is not None:
            options["username"] = self.username
        if self.password is not None:
            options["password"] = self.password
        return {**options, **self._tls()}

    def sentinel_options(self, timeout: float) -> dict[str, Any]:
        """A Sentinel's own connections: its password, never the data servers'."""
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        options["password"] = self.sentinel_password
        return {**options, **self._tls()}

    def _tls(self) -> dict[str, Any]:
        return {"ssl": True, **dict(self.tls_options)} if self.tls else {}


def parse(url: str) -> RedisForm:
    """The form a Redis URL names, or ValueError saying what is wrong with it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _KINDS:
        raise ValueError(f"not a Redis URL: {EXAMPLE}")
    kind, tls = _KINDS[scheme]
    userinfo, _, located = parts.netloc.rpartition("@")
    name, colon, secret = userinfo.partition(":")
    if name and not colon:
        raise ValueError("a user name without a password: for a password alone write ':pw@host'")
    options = _query(parts.query, kind, tls)
    path = [unquote(p) for p in parts.path.split("/") if p]
    db = _int(options.pop("db", "0"), "db")
    values: dict[str, Any] = {
        "kind": kind,
        "tls": tls,
        "username": unquote(name) or None,
        "password": unquote(secret) if colon else None,
        "sentinel_password": options.pop("sentinel_password", None),
        "tls_options": tuple(sorted(options.items())),
    }
    if scheme in ("unix", "redis+unix"):
        if located or not path:
            raise ValueError("a unix socket URL is 'unix:///path/to/redis.sock'")
        return RedisForm(socket="/" + "/".join(path), db=db, **values)
    nodes = _nodes(located, kind)
    if kind == SERVER:
        if len(nodes) > 1:
            raise ValueError(
                "several hosts name a Sentinel or a Cluster: write "
                "'redis+sentinel://host:port,host:port/service_name' or "
                "'redis+cluster://host:port,host:port'"
            )
        if len(path) > 1:
            raise ValueError("the path of a Redis URL is its database number, like '/0'")
        return RedisForm(nodes=nodes, db=_int(path[0], "database") if path else db, **values)
    if kind == SENTINEL:
        if not path or len(path) > 2:
            raise ValueError(
                "a Sentinel URL names the master: 'redis+sentinel://host:26379/service_name'"
            )
        db = _int(path[1], "database") if len(path) == 2 else db
        return RedisForm(nodes=nodes, service=path[0], db=db, **values)
    if path not in ([], ["0"]) or db != 0:
        raise ValueError("a Redis Cluster has only database 0: 'redis+cluster://host:port'")
    return RedisForm(nodes=nodes, **values)


def _query(query: str, kind: str, tls: bool) -> dict[str, Any]:
    known = {"db"} if kind != CLUSTER else set()
    if kind == SENTINEL:
        known.add("sentinel_password")
    if tls:
        known.update(_TLS_OPTIONS)
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in known:
            if name in _TLS_OPTIONS:
                raise ValueError(f"{name} needs TLS: the scheme is then rediss")
            raise ValueError(f"unknown option {name!r}; known: {', '.join(sorted(known))}")
        if name == "ssl_cert_reqs":
            if value.lower() not in _CERT_REQS:
                raise ValueError("ssl_cert_reqs is one of required, optional, none")
            options[name] = value.lower()
        elif name == "ssl_check_hostname":
            if value.lower() not in _BOOLEANS:
                raise ValueError("ssl_check_hostname is true or false")
            options[name] = _BOOLEANS[value.lower()]
        else:
            options[name] = value
    return options


def _nodes(located: str, kind: str) -> tuple[tuple[str, int], ...]:
    nodes = []
    for location in located.split(","):
        try:
            parts = urlsplit(f"//{location.strip()}")
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ValueError(f"{location!r} is not host:port") from None
        if not host:
            raise ValueError(f"no host in the Redis URL: {EXAMPLE}")
        nodes.append((host, port or _DEFAULT_PORT[kind]))
    return tuple(nodes)


def _int(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"the {what} must be a number, not {text!r}")
    return int(text)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- Clients --------------------------------------------------------------------------------


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
    hosts = ",".join(_address(host, port) for host, port in form.nodes)
    if form.kind == CLUSTER:
        return f"redis+cluster://{hosts}", options
    sentinel = {**form.sentinel_options(timeout), "retry": _retry()}
    sentinel["username"] = None  # else `limits` gives the Sentinels the master's credentials
    options.update(db=form.db, sentinel_kwargs=sentinel, use_replicas=False)
    return f"redis+sentinel://{hosts}/{form.service}", options


# --- What went wrong, in one sentence -------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Why Redis cannot be used; `lasting` when waiting will not help (the URL or Redis's
    configuration is wrong: a password, a form, a certificate)."""

    message: str
    lasting: bool

    def __str__(self) -> str:
        return self.message


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
        return _role(client.redis, form)
    except ERRORS as error:
        return Verdict(*_explain(error, form, timeout))
    finally:
        if client is not None:
            client.close()


def _role(client: redis.Redis | redis.cluster.RedisCluster, form: RedisForm) -> Verdict | None:
    """A server named by redis:// must be neither a cluster's node nor a read-only replica."""
    try:
        info = client.info()
    except ResponseError:  # INFO renamed or refused (some hosted Redis): nothing more to see
        return None
    if str(info.get("cluster_enabled", 0)) == "1":
        host, port = form.nodes[0] if form.nodes else ("host", 6379)
        return Verdict(
            f"{form.where} is a node of a Redis Cluster: name the cluster with "
            f"redis+cluster://{_address(host, port)}",
            True,
        )
    if info.get("role") == "slave":
        return Verdict(f"{form.where} is a read-only replica: {_NAME_THE_MASTER}", True)
    return None


_PLAIN = " (if that port does not speak TLS, name it with redis://)"
_NAME_THE_MASTER = "name its master, or its Sentinels with redis+sentinel://"


def explain(error: BaseException, form: RedisForm, timeout: float | None = None) -> str:
    """One sentence that says what happened, naming where; never the password."""
    return _explain(error, form, timeout)[0]


def _explain(  # noqa: PLR0911 (one answer per kind of failure, most telling first)
    error: BaseException, form: RedisForm, timeout: float | None
) -> tuple[str, bool]:
    """The sentence, and whether waiting will not mend it (a password, a form, a certificate)."""
    where, chain = form.where, list(_chain(error))
    text = " ".join(str(e) for e in chain)

    def found(kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kind)), None)

    if auth := found((AuthenticationError, AuthenticationWrongNumberOfArgsError)):
        return _authentication(auth, form), True
    if "No master found" in text:
        return _no_master(text, form)
    if moved := found(AskError):
        answer = "ASK" if getattr(moved, "status_code", None) == "ASK" else "MOVED"
        return (
            f"{where} is a node of a Redis Cluster that does not hold these keys (it answered "
            f"{answer}): name the cluster with redis+cluster://{form.hosts.split(', ')[0]}"
        ), True
    if "Cluster mode is not enabled" in text:
        return f"{where} is not a cluster (cluster mode is disabled): name it with redis://", True
    if found(ClusterCrossSlotError):
        return f"{where} refused keys of several hash slots in one command (CROSSSLOT)", True
    if down := found(ClusterDownError):
        return f"{where} says the cluster is down ({down})", False
    if "All slots are not covered" in text:
        return f"{where} does not serve every hash slot: is it still being set up?", False
    if found(ReadOnlyError):
        return f"{where} is a read-only replica: {_NAME_THE_MASTER}", True
    if found(BusyLoadingError):
        return f"{where} is still loading its data set into memory", False
    if denied := found(NoPermissionError):
        return f"{where} refused a command to this user (NOPERM {denied})", True
    if full := found(OutOfMemoryError):
        return f"{where} is out of memory (OOM {full})", False
    return _transport(chain, form, timeout) or (f"{where} failed: {_name(chain[0])}", False)


def _authentication(error: BaseException, form: RedisForm) -> str:
    where, code, text = form.where, getattr(error, "status_code", None), str(error)
    if code == "NOAUTH":
        return f"{where} requires a password, and the URL gives none"
    if "without any password configured" in text or "no password is set" in text:
        return f"{where} has no password set, but the URL gives one"
    if code == "WRONGPASS" or "invalid" in text:
        who = "user name and password" if form.username else "password"
        return f"{where} refused the {who}"
    return f"{where} refused to authenticate ({text})"


def _no_master(text: str, form: RedisForm) -> tuple[str, bool]:
    sentinels = f"the Sentinel{'s' if len(form.nodes) > 1 else ''} at {form.hosts}"
    if "auth:" in text and form.sentinel_password is None:
        return f"{sentinels} require a password: give it as ?sentinel_password=", True
    if "auth:" in text:
        return f"{sentinels} refused the sentinel_password", True
    if text.count("network:") >= len(form.nodes):
        return f"{sentinels} cannot be reached", False
    return f"{sentinels} know no master named {form.service!r} that is up", False


def _transport(  # noqa: PLR0911 (one answer per kind of failure)
    chain: list[BaseException], form: RedisForm, timeout: float | None
) -> tuple[str, bool] | None:
    """Connections that failed: refused, timed out, TLS, closed. None if none did."""
    where, text = form.where, " ".join(str(e) for e in chain)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or (
        "CERTIFICATE_VERIFY_FAILED" in text
    ):
        detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip()
        return (
            f"{where} presented a TLS certificate that is not trusted ({detail or 'unverified'}):"
            " give its CA with ?ssl_ca_certs=/path/to/ca.pem"
        ), True
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return f"{where} does not speak TLS on that port: name it with redis://", True
    if any(isinstance(e, redis.TimeoutError | TimeoutError) for e in chain):
        within = f"within {timeout:g} s" if timeout else "in time"
        if "handshake" in text:
            return f"{where} did not complete a TLS handshake {within}{_PLAIN}", False
        if form.tls and "connecting" in text:
            return f"{where} did not answer {within} while connecting{_PLAIN}", False
        return f"{where} did not answer {within}", False
    if any(isinstance(e, redis.ConnectionError | OSError) for e in chain):
        reason = _reason(chain)
        if reason in _CLOSED:
            hint = "" if form.tls else " (if that port speaks TLS, use rediss://)"
            return f"{where} closed the connection{hint}", False
        return f"{where} cannot be reached ({reason})", False
    if response := next((e for e in chain if isinstance(e, ResponseError)), None):
        return f"{where} answered with an error: {response}", False
    return None


_CLOSED = ("connection reset by peer", "the server closed the connection")


def _reason(chain: list[BaseException]) -> str:
    for error in chain:
        if isinstance(error, socket.gaierror):
            return "unknown host"
        if isinstance(error, OSError) and error.errno:
            return os.strerror(error.errno).lower()
    text = " ".join(str(e) for e in chain).lower()
    for marker, reason in (
        ("connection refused", "connection refused"),
        ("name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("temporary failure in name resolution", "unknown host"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network is unreachable"),
        ("connection reset", "connection reset by peer"),
        ("no such file", "no such socket"),
        ("closed by server", "the server closed the connection"),
    ):
        if marker in text:
            return reason
    return _name(chain[-1])


def _name(error: BaseException) -> str:
    text = str(error).strip().rstrip(".")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it, and so on."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
