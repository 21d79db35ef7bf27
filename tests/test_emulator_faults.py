"""The emulator's `drop` fate: a request counted, then its connection closed without an answer.

It stands for a server or proxy that drops a request it has already counted, so that tests can
prove a client does not silently send such a request again.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import aiohttp
import pytest
import urllib3

from catfacts.emulator import EmulatorConfig
from catfacts.emulator.app import DROPPED_STATUS
from catfacts.emulator.config import Fate
from catfacts.emulator.faults import FaultInjector
from catfacts.emulator.process import EmulatorControl, EmulatorProcess
from catfacts.emulator.server import READY_PREFIX
from catfacts.errors import ConfigError
from tests.support import Api

DROPPED = str(DROPPED_STATUS)


def raw_get(url: str, path: str, *, request_id: str) -> bytes:
    """Everything the server sends back to one GET on a new connection, until it closes it."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5.0) as connection:
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Request-ID: {request_id}\r\n"
        connection.sendall(f"{request}\r\n".encode())
        received = b""
        while chunk := connection.recv(4096):
            received += chunk
        return received


def test_a_planned_drop_closes_the_connection_without_a_byte(emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["drop"])
    assert raw_get(emulator.url, "/fact", request_id="gone") == b""
    assert emulator.control.stats() == {  # 444: nginx's "Connection Closed Without Response"
        "statuses": {"444": 1},
        "by_client": {"127.0.0.1": {"444": 1}},
        "by_request_id": {"gone": {"444": 1}},
        "by_path": {"/fact": {"444": 1}},
        "total": 1,
    }
    assert [status for _, status in emulator.control.arrivals()] == [444]
    assert emulator.control.config()["plan"] == []


def test_a_drop_counts_against_the_limit_and_the_next_request_is_served(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="2/minute", plan=["drop"])
    with pytest.raises(urllib3.exceptions.ProtocolError, match="without response"):
        api.get("/fact")  # the pool's retries are off: the failure shows as it is
    served = api.get("/fact")  # on a new connection: the dropped one is gone
    assert served.status == 200
    assert "fact" in served.json()
    assert served.headers["X-RateLimit-Remaining"] == "0"  # the drop used up a hit
    assert api.get("/fact").status == 429
    assert emulator.control.stats()["statuses"] == {"200": 1, "429": 1, DROPPED: 1}


def test_a_plain_aiohttp_session_resends_a_dropped_get_once(emulator: EmulatorProcess) -> None:
    """The hazard the fate exposes: aiohttp repeats an idempotent request the server dropped."""

    async def scenario() -> tuple[int, BaseException | None]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{emulator.url}/fact") as response:
                status = response.status
            try:
                async with session.get(f"{emulator.url}/fact"):
                    pass
            except aiohttp.ServerDisconnectedError as error:
                return status, error
            return status, None

    emulator.control.configure(plan=["drop", "ok", "drop", "drop"])
    status, failure = asyncio.run(scenario())
    assert status == 200  # the first drop was resent without a word
    assert isinstance(failure, aiohttp.ServerDisconnectedError)  # dropped, resent, dropped
    assert [status for _, status in emulator.control.arrivals()] == [444, 200, 444, 444]


def test_drop_rate_drops_that_share_of_fact_requests(api: Api, emulator: EmulatorProcess) -> None:
    share = FaultInjector(EmulatorConfig(drop_rate=0.25, seed=7))
    fates = [share.for_fact().fate for _ in range(2000)]
    assert set(fates) == {Fate.OK, Fate.DROP}
    assert 0.22 < fates.count(Fate.DROP) / len(fates) < 0.28
    emulator.control.configure(drop_rate=1.0)
    assert raw_get(emulator.url, "/fact", request_id="a") == b""
    assert api.get("/facts").status == 200  # /facts is only delayed, never faulted
    assert emulator.control.stats()["statuses"] == {"200": 1, DROPPED: 1}


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"drop_rate": 1.5}, "drop_rate must be a probability"),
        ({"drop_rate": "all"}, "drop_rate must be a number"),
        ({"drop_rate": 0.6, "error_rate": 0.5}, "fault rates add up to 1.1"),
    ],
)
def test_drop_rate_is_checked_like_the_other_rates(
    changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        EmulatorConfig().updated(changes)


def test_drops_from_the_command_line_log_nothing_and_serving_goes_on() -> None:
    command = [sys.executable, "-m", "catfacts.emulator", "--port", "0", "--drop-rate", "1"]
    emulator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().removeprefix(READY_PREFIX).strip()
        assert [raw_get(url, "/fact", request_id=str(n)) for n in range(3)] == [b""] * 3
        control = EmulatorControl(url)
        assert control.stats()["statuses"] == {DROPPED: 3}
        control.close()
    finally:
        emulator.terminate()
        _, stderr = emulator.communicate(timeout=10)
    assert emulator.returncode == 0
    assert stderr == ""  # no traceback, not even a warning, at the default log level
