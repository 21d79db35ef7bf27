"""A Redis URL read into the form it names (a server, a Sentinel's master, a Cluster), checked.

`parse` is the only way in; a URL it refuses says what is wrong with it, never the password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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
        return ", ".join(address(host, port) for host, port in self.nodes)

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


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
