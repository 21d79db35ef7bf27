"""Redis as it is run: a password, TLS, Sentinel and a three-master Cluster, each real local
redis-servers on free loopback ports (never the machine's own). The limiter and the inbound
limit's storage (`limits`) work through the same URLs, and every failure is told as it is,
promptly, in one line."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
import urllib3
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.processes import RedisServer, ServiceProcess, catfacts_env
from catfacts import redis_connect
from catfacts.errors import ServiceUnavailable
from catfacts.limiter import PAUSED, WINDOW, Limiter, Slot, Wait
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rates
from catfacts.redis_connect import (
    CLUSTER,
    SENTINEL,
    SERVER,
    RedisForm,
    Verdict,
    check,
    for_limits,
    parse,
)
from tests.support import AppFactory, StartService, closed_port_url

RATE = Rates.parse("3 per 2 seconds")
UPSTREAM = "http://upstream.test"
PASSWORD = "s3cret-cat"
MASTER = "catmaster"
PROMPT = 1.0  # seconds: a failure is told at once, never after a time-out or a window

# --- Servers of this module's own ------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (held together while chosen, so never the same)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def required(program: str) -> str:
    """A program the suite needs: missing, a failure in CI and a loud skip elsewhere."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} is not installed (Debian: redis-tools / openssl)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"REDIS FORM TESTS SKIPPED: {message}")
    return path


class Server(RedisServer):
    """A private redis-server (or Sentinel) with `options`; its log kept to say why it failed."""

    def __init__(
        self, binary: str, log: Path, *options: str, tls: bool = False, port: int | None = None
    ) -> None:
        super().__init__(binary)
        self.options, self.tls, self.log = list(options), tls, log
        self.port = port or self.port
        self.url = f"{'rediss' if tls else 'redis'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        listen = ["--port", "0", "--tls-port"] if self.tls else ["--port"]
        command = [self.binary, *self.options, *listen, str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def wait(self, client: redis.Redis) -> None:
        """Until `client` gets a PONG; RuntimeError with the log if the server died first."""
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    assert self.process is not None
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(self.log.read_text()) from None
                    time.sleep(0.02)
        finally:
            client.close()


@pytest.fixture(scope="module")
def launch(
    redis_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Server]]:
    """Starts servers for this module; every one is killed at its end, started or not."""
    started: list[Server] = []
    folder = tmp_path_factory.mktemp("redis-forms")

    def launch(*options: str, tls: bool = False, port: int | None = None, **ping: Any) -> Server:
        server = Server(redis_binary, folder / f"log-{len(started)}", *options, tls=tls, port=port)
        started.append(server)
        server.start()
        ping.update(socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
        server.wait(redis.Redis("127.0.0.1", server.port, **ping))
        return server

    try:
        yield launch
    finally:
        for server in started:
            server.kill()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("redis-files")


@pytest.fixture(scope="module")
def with_password(launch: Callable[..., Server]) -> Server:
    return launch("--requirepass", PASSWORD, password=PASSWORD)


@pytest.fixture(scope="module")
def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = [required("openssl"), "req", "-x509", "-newkey", "ec"]
    openssl += ["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
    openssl += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    openssl += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(openssl, check=True, capture_output=True, timeout=30)
    return cert, key


def launch_tls(
    launch: Callable[..., Server], certificate: tuple[Path, Path], *options: str, port: int = 0
) -> Server:
    """A TLS-only server; the test is skipped only if this redis-server was built without TLS."""
    cert, key = (str(path) for path in certificate)
    files = ["--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert]
    try:
        return launch(
            *options, *files, "--tls-auth-clients", "no", tls=True, port=port or None,
            ssl=True, ssl_ca_certs=cert,
        )  # fmt: skip
    except RuntimeError as error:
        if "tls" in str(error).lower():  # BUILD_TLS=no: there is nothing to test
            pytest.skip(f"this redis-server has no TLS support: {str(error).strip()[-200:]}")
        raise


@pytest.fixture(scope="module")
def tls(launch: Callable[..., Server], certificate: tuple[Path, Path]) -> tuple[Server, Path]:
    """A TLS-only redis-server; the CA file that trusts it."""
    return launch_tls(launch, certificate), certificate[0]


@pytest.fixture(scope="module")
def sentinel(launch: Callable[..., Server], folder: Path) -> str:
    """A master with a password, watched by one Sentinel: the Sentinel URL."""
    master = launch("--requirepass", PASSWORD, password=PASSWORD)
    config = folder / "sentinel.conf"
    config.write_text(
        f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
        f"sentinel auth-pass {MASTER} {PASSWORD}\n"
        f"sentinel down-after-milliseconds {MASTER} 60000\n"
    )
    watcher = launch(str(config), "--sentinel")
    with redis.Redis(port=watcher.port) as client:
        wait_until(lambda: client.sentinel_master(MASTER)["is_master"])
    return f"redis+sentinel://:{PASSWORD}@127.0.0.1:{watcher.port}/{MASTER}"


@pytest.fixture(scope="module")
def tls_sentinel(
    launch: Callable[..., Server], folder: Path, certificate: tuple[Path, Path]
) -> str:
    """A TLS-only master watched by a TLS-only Sentinel: the URL, with the CA."""
    master = launch_tls(launch, certificate)
    config = folder / "tls-sentinel.conf"
    config.write_text(
        f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 60000\n"
        "tls-replication yes\n"  # a Sentinel speaks to the master as a replica would
    )
    watcher = launch_tls(launch, certificate, str(config), "--sentinel")
    with redis.Redis(
        "127.0.0.1", watcher.port, ssl=True, ssl_ca_certs=str(certificate[0])
    ) as client:
        wait_until(lambda: client.sentinel_master(MASTER)["is_master"])
    return f"rediss+sentinel://127.0.0.1:{watcher.port}/{MASTER}?ssl_ca_certs={certificate[0]}"


def make_cluster(
    launch: Callable[..., Server], folder: Path, certificate: tuple[Path, Path] | None = None
) -> list[int]:
    """Three masters, every slot covered, as `redis-cli --cluster create` makes them: ports."""
    cli = [required("redis-cli")]
    ports = free_ports(6)  # three data ports, three for the cluster bus (any port may be high)
    for port, bus in zip(ports[:3], ports[3:], strict=True):
        options = [
            "--cluster-enabled", "yes", "--cluster-port", str(bus),
            "--cluster-config-file", str(folder / f"nodes-{port}.conf"),
            "--cluster-node-timeout", "5000", "--dir", str(folder),
        ]  # fmt: skip
        if certificate:
            launch_tls(launch, certificate, *options, "--tls-cluster", "yes", port=port)
        else:
            launch(*options, port=port)
    tls: dict[str, Any] = {}
    if certificate:
        cli += ["--tls", "--cacert", str(certificate[0])]
        tls = {"ssl": True, "ssl_ca_certs": str(certificate[0])}
    nodes = [f"127.0.0.1:{port}" for port in ports[:3]]
    create = [*cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
    subprocess.run(create, check=True, capture_output=True, timeout=30)
    for port in ports[:3]:
        wait_until(functools.partial(cluster_ok, port, **tls))
    return ports[:3]


def cluster_ok(port: int, **tls: Any) -> bool:
    with redis.Redis("127.0.0.1", port, **tls) as node:
        return b"cluster_state:ok" in node.execute_command("CLUSTER", "INFO")


@pytest.fixture(scope="module")
def cluster(launch: Callable[..., Server], folder: Path) -> list[int]:
    return make_cluster(launch, folder)


@pytest.fixture(scope="module")
def tls_cluster(
    launch: Callable[..., Server], folder: Path, certificate: tuple[Path, Path]
) -> list[int]:
    return make_cluster(launch, folder, certificate)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def empty(url: str) -> str:
    """`url`, its data (every node's) flushed."""
    client = redis_connect.SyncClient(url)
    try:
        client.redis.flushall()
    finally:
        client.close()
    return url


# --- The limiter's contract, as tests/test_limiter_contract.py has it ------------------------


def limiter(url: str, upstream: str = UPSTREAM, rates: Rates = RATE) -> RedisLimiter:
    return RedisLimiter(rates, url, upstream, lease=5.0)


async def take_all(limiter: Limiter) -> tuple[list[Slot], Wait]:
    slots = []
    while isinstance(answer := await limiter.try_acquire(), Slot):
        slots.append(answer)
    return slots, answer


async def keeps_the_contract(url: str, other_url: str) -> None:
    """Exact acquire, release, cancel and pause through `url`; `other_url` shares the budget."""
    one, other = limiter(url), limiter(other_url)
    try:
        (first, second, _), wait = await take_all(one)
        assert wait.reason == WINDOW
        assert 1.9 <= wait.seconds <= 2.0  # every slot in flight: none frees before now + W
        assert isinstance(await other.try_acquire(), Wait)  # one budget, whichever URL
        await one.release(first)
        answer = await other.try_acquire()
        assert isinstance(answer, Wait)
        assert 1.8 <= answer.seconds <= 2.0  # released: frees a window after its answer
        await one.cancel(second)
        assert isinstance(await other.try_acquire(), Slot)  # never sent: free at once
        await other.pause(3.0)
        paused = await one.try_acquire()
        assert isinstance(paused, Wait)
        assert paused.reason == PAUSED
        assert 2.8 <= paused.seconds <= 3.0
    finally:
        await one.close()
        await other.close()


def refusal(url: str) -> tuple[str, float]:
    """The 503 the limiter answers through `url` to a call and to the next one (the same), and
    how long both took together."""
    started = time.monotonic()

    async def scenario() -> list[str]:
        broken, messages = limiter(url), []
        try:
            for _ in range(2):
                with pytest.raises(ServiceUnavailable) as refused:
                    await broken.try_acquire()
                messages.append(refused.value.message)
        finally:
            await broken.close()
        return messages

    first, second = asyncio.run(scenario())
    assert first == second
    return first, time.monotonic() - started


def one_line(verdict: Verdict | None) -> str:
    assert verdict is not None
    assert "\n" not in verdict.message
    assert PASSWORD not in verdict.message
    return verdict.message


def counts_exactly(uri: str, options: dict[str, Any], others: Sequence[str] = ()) -> None:
    """The inbound limit's storage through `uri`: 3 a minute for one client, then refused;
    storages through `others` see the same counts. (A minute: a busy machine cannot let the
    window pass between the hits.)"""
    storages = [storage_from_string(u, **options) for u in [uri, *others]]
    limits = [MovingWindowRateLimiter(s) for s in storages]
    item = RateLimitItemPerMinute(3)
    client = f"client-{time.monotonic_ns()}"
    granted = [limits[i % len(limits)].hit(item, client) for i in range(5)]
    assert granted == [True, True, True, False, False]


# --- A password ------------------------------------------------------------------------------


def test_a_password_in_the_url_works_for_the_limiter_and_the_inbound_limit(
    with_password: Server,
) -> None:
    url = empty(f"redis://:{PASSWORD}@127.0.0.1:{with_password.port}/0")
    assert check(url) is None
    asyncio.run(keeps_the_contract(url, url))
    counts_exactly(*for_limits(url))
    counts_exactly(url, {})  # the URL as it is: `limits` reads the password itself


def test_a_wrong_or_missing_password_is_told_at_once_and_is_not_unreachable(
    with_password: Server,
) -> None:
    where = f"Redis at 127.0.0.1:{with_password.port}"
    wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{with_password.port}/0"
    message, took = refusal(wrong)
    assert message == f"the shared rate limiter cannot use Redis: {where} refused the password"
    assert took < PROMPT
    verdict = check(wrong)
    assert one_line(verdict) == f"{where} refused the password"
    assert verdict is not None and verdict.lasting  # no use waiting: start-up stops
    missing = check(f"redis://127.0.0.1:{with_password.port}/0")
    assert one_line(missing) == f"{where} requires a password, and the URL gives none"


def test_a_unix_socket_works_for_the_limiter_and_the_inbound_limit(
    launch: Callable[..., Server], folder: Path
) -> None:
    socket_path = folder / "redis.sock"
    launch("--unixsocket", str(socket_path))
    for url in (f"unix://{socket_path}?db=1", f"redis+unix://{socket_path}?db=1"):
        assert check(empty(url)) is None
        asyncio.run(keeps_the_contract(url, url))
        counts_exactly(*for_limits(url))
    gone = f"unix://{folder / 'nobody.sock'}"
    assert (
        one_line(check(gone))
        == f"Redis at {folder / 'nobody.sock'} cannot be reached (no such file or directory)"
    )


def test_an_unknown_host_is_told_as_such() -> None:
    verdict = check("redis://no-such-host.invalid:6379/0")
    assert (
        one_line(verdict) == "Redis at no-such-host.invalid:6379 cannot be reached (unknown host)"
    )


def test_an_unreachable_redis_is_told_as_unreachable_at_once() -> None:
    url = closed_port_url().replace("http", "redis")
    where = f"Redis at {url.removeprefix('redis://')}"
    message, took = refusal(url)
    assert message.endswith(f"{where} cannot be reached (connection refused)")
    assert took < PROMPT
    verdict = check(url)
    assert one_line(verdict) == f"{where} cannot be reached (connection refused)"
    assert verdict is not None and not verdict.lasting  # it may come: start-up goes on


# --- TLS -------------------------------------------------------------------------------------


def test_tls_with_the_servers_ca_works_for_the_limiter_and_the_inbound_limit(
    tls: tuple[Server, Path],
) -> None:
    server, ca = tls
    url = empty(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={ca}")
    assert check(url) is None
    assert check(f"rediss://127.0.0.1:{server.port}/0?ssl_cert_reqs=none") is None  # unverified
    asyncio.run(keeps_the_contract(url, url))
    counts_exactly(*for_limits(url))


def test_tls_failures_say_which(tls: tuple[Server, Path], redis_url: str) -> None:
    server, _ = tls
    where = f"Redis at 127.0.0.1:{server.port}"
    untrusted = check(f"rediss://127.0.0.1:{server.port}/0")  # the system's CAs only
    assert one_line(untrusted).startswith(
        f"{where} presented a TLS certificate that is not trusted"
    )
    assert untrusted is not None and untrusted.lasting
    plain = one_line(check(redis_url.replace("redis://", "rediss://"), timeout=0.5))
    assert "did not complete a TLS handshake within 0.5 s (if that port does not speak TLS" in plain
    tls_port = one_line(check(f"redis://127.0.0.1:{server.port}/0"))
    assert tls_port == f"{where} closed the connection (if that port speaks TLS, use rediss://)"
    message, took = refusal(f"rediss://127.0.0.1:{server.port}/0")
    assert "not trusted" in message
    assert took < PROMPT


def test_tls_through_a_sentinel_and_to_a_cluster(
    tls_sentinel: str, tls_cluster: list[int], certificate: tuple[Path, Path]
) -> None:
    cluster_url = f"rediss+cluster://127.0.0.1:{tls_cluster[2]}?ssl_ca_certs={certificate[0]}"
    for url in (empty(tls_sentinel), empty(cluster_url)):
        assert check(url) is None
        asyncio.run(keeps_the_contract(url, url))
        counts_exactly(*for_limits(url))


# --- Sentinel --------------------------------------------------------------------------------


def test_through_a_sentinel_the_limiter_and_the_inbound_limit_find_the_master(
    sentinel: str,
) -> None:
    url = empty(sentinel)
    assert check(url) is None
    asyncio.run(keeps_the_contract(url, url))
    counts_exactly(*for_limits(url))


def test_a_sentinel_that_knows_no_such_master_says_so(sentinel: str) -> None:
    url = sentinel.replace(f"/{MASTER}", "/no-such-master")
    verdict = one_line(check(url))
    assert verdict.endswith("know no master named 'no-such-master' that is up")
    message, took = refusal(url)
    assert "know no master named 'no-such-master'" in message
    assert took < PROMPT


def test_through_a_sentinel_a_wrong_password_is_the_masters(sentinel: str) -> None:
    url = sentinel.replace(PASSWORD, f"not-{PASSWORD}")
    assert one_line(check(url)).endswith(
        f"'{MASTER}' (Sentinel at {url.split('@')[1].split('/')[0]}) refused the password"
    )


# --- Cluster ---------------------------------------------------------------------------------


def owns(port: int, key: str) -> bool:
    with redis.Redis(port=port) as node:
        try:
            node.exists(key)
            return True
        except redis.exceptions.MovedError:
            return False


def node_url(port: int) -> str:
    return f"redis+cluster://127.0.0.1:{port}"


def test_the_limiter_keeps_its_contract_whichever_node_the_cluster_url_names(
    cluster: list[int],
) -> None:
    for port in cluster:
        url = empty(node_url(port))
        assert check(url) is None
        other = node_url(cluster[(cluster.index(port) + 1) % 3])
        asyncio.run(keeps_the_contract(url, other))


def test_in_a_cluster_every_key_of_a_limiter_lives_on_one_node_and_expires(
    cluster: list[int],
) -> None:
    url = empty(node_url(cluster[0]))

    async def scenario() -> None:
        one = limiter(url)
        await one.release(await one.acquire(clients=lambda: ["a client"]))
        await one.acquire(clients=lambda: ["a client"])
        await one.pause(1.0)
        await one.set_rates(Rates.parse("2 per 2 seconds"))
        await one.withdraw()
        await one.close()

    asyncio.run(scenario())
    held = {}
    for port in cluster:
        with redis.Redis(port=port) as node:
            held[port] = node.keys("catfacts:*")
            assert all(node.pttl(key) > 0 for key in held[port])
    assert sorted(len(keys) for keys in held.values()) == [0, 0, 6]


def test_a_plain_url_naming_a_cluster_node_is_told_to_name_the_cluster(
    cluster: list[int],
) -> None:
    elsewhere = next(port for port in cluster if not owns(port, f"catfacts:{{{UPSTREAM}}}:log"))
    url = f"redis://127.0.0.1:{elsewhere}/0"
    message, took = refusal(url)
    assert message.endswith(
        f"Redis at 127.0.0.1:{elsewhere} is a node of a Redis Cluster that does not hold these "
        f"keys (it answered MOVED): name the cluster with redis+cluster://127.0.0.1:{elsewhere}"
    )
    assert took < PROMPT
    verdict = check(url)  # whichever node: /readyz is not ready, start-up stops
    assert one_line(verdict).endswith(
        f"is a node of a Redis Cluster: name the cluster with redis+cluster://127.0.0.1:{elsewhere}"
    )
    assert verdict is not None and verdict.lasting


def test_the_inbound_limits_storage_counts_once_across_the_cluster(cluster: list[int]) -> None:
    for port in cluster:
        uri, options = for_limits(node_url(port))
        others = [for_limits(node_url(p))[0] for p in cluster if p != port]
        counts_exactly(uri, options, others)
    counts_exactly(node_url(cluster[1]), {})  # the URL as it is, too


def test_a_cluster_url_naming_no_cluster_or_nothing_says_so(redis_url: str) -> None:
    plain = redis_url.replace("redis://", "redis+cluster://").removesuffix("/0")
    assert one_line(check(plain)).endswith(
        "is not a cluster (cluster mode is disabled): name it with redis://"
    )
    gone = closed_port_url().replace("http", "redis+cluster")
    message, took = refusal(gone)
    assert "cannot be reached (connection refused)" in message
    assert took < PROMPT


# --- The URL forms ---------------------------------------------------------------------------


TLS = (("ssl_ca_certs", "/ca.pem"), ("ssl_cert_reqs", "required"))


@pytest.mark.parametrize(
    ("url", "form"),
    [
        ("redis://127.0.0.1:6380/2", RedisForm(SERVER, nodes=(("127.0.0.1", 6380),), db=2)),
        ("redis://:pw@cache", RedisForm(SERVER, nodes=(("cache", 6379),), password="pw")),
        (
            "redis://me:pw@cache/1",
            RedisForm(SERVER, nodes=(("cache", 6379),), username="me", password="pw", db=1),
        ),
        (
            "rediss://cache?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required",
            RedisForm(SERVER, tls=True, nodes=(("cache", 6379),), tls_options=TLS),
        ),
        ("unix:///run/redis.sock?db=3", RedisForm(SERVER, socket="/run/redis.sock", db=3)),
        (
            "redis+sentinel://a:26379,b/cats/1?sentinel_password=x",
            RedisForm(
                SENTINEL,
                nodes=(("a", 26379), ("b", 26379)),
                service="cats",
                db=1,
                sentinel_password="x",
            ),
        ),
        (
            "redis+cluster://:pw@a:7000,[::1]:7001",
            RedisForm(CLUSTER, nodes=(("a", 7000), ("::1", 7001)), password="pw"),
        ),
        (
            "rediss+cluster://a:7000?ssl_check_hostname=false",
            RedisForm(
                CLUSTER,
                tls=True,
                nodes=(("a", 7000),),
                tls_options=(("ssl_check_hostname", False),),
            ),
        ),
    ],
)
def test_the_url_forms(url: str, form: RedisForm) -> None:
    assert parse(url) == form
    assert "pw" not in repr(parse(url))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://cache:6379", "not a Redis URL"),
        ("redis://a:1,b:2", "several hosts name a Sentinel or a Cluster"),
        ("redis://cache/x", "database must be a number"),
        ("redis://pw@cache", "a user name without a password"),
        ("redis://cache?ssl_ca_certs=/ca.pem", "ssl_ca_certs needs TLS"),
        ("redis://cache?socket_timeout=9", "unknown option 'socket_timeout'"),
        ("redis+sentinel://a:26379", "a Sentinel URL names the master"),
        ("redis+cluster://a:7000/1", "a Redis Cluster has only database 0"),
        ("redis+cluster://a:port", "'a:port' is not host:port"),
        ("rediss://cache?ssl_cert_reqs=maybe", "ssl_cert_reqs is one of"),
    ],
)
def test_a_bad_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse(url)
    assert one_line(check(url)).startswith("CATFACTS_REDIS_URL is not usable: ")


def test_limits_gets_the_same_redis_with_short_time_outs() -> None:
    uri, options = for_limits("unix:///run/redis.sock")
    assert uri == "redis+unix:///run/redis.sock"
    uri, options = for_limits("redis+sentinel://:pw@a:1,b:2/cats/2?sentinel_password=sp")
    assert uri == "redis+sentinel://a:1,b:2/cats"  # no credentials: `limits` would give the
    assert options["password"] == "pw"  # master's to the Sentinels too
    assert options["db"] == 2
    assert options["sentinel_kwargs"]["password"] == "sp"
    assert options["use_replicas"] is False  # counts read from the master, never stale
    assert options["socket_timeout"] == options["sentinel_kwargs"]["socket_timeout"] == 1.0
    uri, options = for_limits("rediss://:pw@cache/1?ssl_cert_reqs=none")
    assert uri == "rediss://:pw@cache/1?ssl_cert_reqs=none"  # redis-py reads it as it is
    assert isinstance(storage_from_string(uri, **options), RedisStorage)


# --- The service through these URLs: the inbound limit, /readyz, start-up --------------------


def test_the_inbound_limit_counts_through_a_cluster_and_a_sentinel(
    make_app: AppFactory, cluster: list[int], sentinel: str
) -> None:
    for url in (empty(node_url(cluster[1])), empty(sentinel)):
        client = make_app(inbound_limit="2/minute", redis_url=url).test_client()
        answers = [client.get("/cat/0") for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        assert answers[0].headers["RateLimit"].startswith('"inbound";r=1;')
        assert client.get("/readyz").status_code == 200


def test_the_inbound_limit_says_when_it_turns_itself_off_and_why(
    make_app: AppFactory, with_password: Server, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{with_password.port}/0"
    client = make_app(inbound_limit="1/minute", redis_url=wrong).test_client()
    with caplog.at_level("WARNING", logger="catfacts.web.inbound"):
        assert [client.get("/cat/0").status_code for _ in range(3)] == [200] * 3
    said = [r.getMessage() for r in caplog.records if r.name == "catfacts.web.inbound"]
    assert said == [  # once, not once a call
        "the inbound limit (1/minute) is OFF: calls go through unlimited until Redis answers: "
        f"Redis at 127.0.0.1:{with_password.port} refused the password"
    ]


def test_readyz_is_not_ready_with_a_plain_url_naming_a_cluster_node(
    make_app: AppFactory, cluster: list[int]
) -> None:
    client = make_app(redis_url=f"redis://127.0.0.1:{cluster[0]}/0").test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json is not None
    assert "is a node of a Redis Cluster: name the cluster with redis+cluster://" in str(
        answer.json
    )


def test_a_wrong_password_stops_start_up_with_one_line(with_password: Server) -> None:
    wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{with_password.port}/0"
    service = ServiceProcess(
        [sys.executable, "-m", "catfacts"], catfacts_env(CATFACTS_REDIS_URL=wrong)
    )
    assert service.wait() != 0
    where = f"Redis at 127.0.0.1:{with_password.port}"
    assert service.output.strip().splitlines() == [
        f"catfacts: CATFACTS_REDIS_URL: {where} refused the password"
    ]


def test_an_unreachable_redis_at_start_up_is_one_warning_line_and_the_service_starts(
    running_service: StartService,
) -> None:
    gone = closed_port_url().replace("http", "redis")
    url, service = running_service(CATFACTS_REDIS_URL=gone)
    where = f"Redis at {gone.removeprefix('redis://')}"
    said = service.wait_for_line(r"CATFACTS_REDIS_URL: .*")
    assert said[0] == (
        f"CATFACTS_REDIS_URL: {where} cannot be reached (connection refused) "
        "(starting; /readyz says not ready until it is)"
    )
    assert urllib3.request("GET", f"{url}/readyz", retries=False).status == 503
