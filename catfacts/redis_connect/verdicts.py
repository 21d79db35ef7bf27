"""What went wrong with Redis, in one sentence that names where: a refused password is not
"unreachable", a cluster node named as a server is not a password problem."""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import redis
import redis.cluster
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

from catfacts.redis_connect.forms import RedisForm, address

# Errors raised by redis-py. RedisClusterException is not a RedisError.
ERRORS: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)


@dataclass(frozen=True)
class Verdict:
    """Why Redis cannot be used; `lasting` when waiting will not help (the URL or Redis's
    configuration is wrong: a password, a form, a certificate)."""

    message: str
    lasting: bool

    def __str__(self) -> str:
        return self.message


def verdict(error: BaseException, form: RedisForm, timeout: float | None = None) -> Verdict:
    """Why Redis failed, and whether waiting will mend it."""
    return Verdict(*_explain(error, form, timeout))


def of_role(client: redis.Redis | redis.cluster.RedisCluster, form: RedisForm) -> Verdict | None:
    """A server named by redis:// must be neither a cluster's node nor a read-only replica."""
    try:
        info = client.info()
    except ResponseError:  # INFO renamed or refused (some hosted Redis): nothing more to see
        return None
    if str(info.get("cluster_enabled", 0)) == "1":
        host, port = form.nodes[0] if form.nodes else ("host", 6379)
        return Verdict(
            f"{form.where} is a node of a Redis Cluster: name the cluster with "
            f"redis+cluster://{address(host, port)}",
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
