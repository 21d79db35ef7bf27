"""Soak, shortened: the emulator keeps flat memory, file descriptors and threads under traffic.

Issue 18's check (`python -m bench soak` runs it in full on `make run`), on the emulator alone:
after a warm-up that fills its bounded tables, thousands more requests from thousands of other
loopback addresses, each with its own X-Request-ID, must not grow what it keeps (read from its
admin API), nor its resident memory beyond noise, nor leave descriptors or threads behind.
"""

from __future__ import annotations

import http.client
import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from catfacts.emulator.process import EmulatorProcess
from tests.support import wait_until

RATE = "3/second"  # per address: the 4th request of an address within a second is refused
WARMUP_ADDRESSES, WARMUP_EACH = 4500, 2  # more request ids and clients than the tables keep
ADDRESSES, EACH = 4500, 4  # then as many other addresses, each with more requests
CONCURRENCY = 16
MIB = 1024 * 1024
RSS_BUDGET = 2 * MIB  # the old log grew by about 10 MiB over these requests


@pytest.fixture
def emulator_alone() -> Iterator[EmulatorProcess]:
    """An emulator of its own, so that its memory is this test's alone."""
    with EmulatorProcess.start(rate_limit=RATE) as process:
        yield process


def address(index: int) -> str:
    """127.30.0.1, 127.30.0.2, ...: all of 127/8 is loopback, so each can be a source address."""
    block, host = divmod(index, 250)
    return f"127.30.{block}.{host + 1}"


def from_address(url: str, index: int, each: int) -> Counter[int]:
    """`each` requests over one connection from the `index`th address, each with its own id."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=10, source_address=(address(index), 0)
    )
    statuses: Counter[int] = Counter()
    try:
        for request in range(each):
            connection.request("GET", "/fact", headers={"X-Request-ID": f"{index}-{request}"})
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
    finally:
        connection.close()
    return statuses


def hammer(url: str, indexes: Sequence[int], each: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for counted in pool.map(lambda index: from_address(url, index, each), indexes):
            statuses += counted
    return statuses


def rss(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert match is not None
    return int(match.group(1)) * 1024


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_the_emulator_keeps_flat_memory_fds_and_threads(emulator_alone: EmulatorProcess) -> None:
    emulator, control, pid = emulator_alone, emulator_alone.control, emulator_alone.pid
    fds_before, threads_before = fds(pid), threads(pid)

    warmup = hammer(emulator.url, range(WARMUP_ADDRESSES), WARMUP_EACH)
    assert warmup == {200: WARMUP_ADDRESSES * WARMUP_EACH}
    warm = control.sizes()
    assert warm["request_ids"] == warm["clients"] == warm["keys_capacity"]  # full already
    rss_warm = rss(pid)

    statuses = hammer(emulator.url, range(WARMUP_ADDRESSES, WARMUP_ADDRESSES + ADDRESSES), EACH)
    assert statuses == {200: ADDRESSES * 3, 429: ADDRESSES}  # the 4th within a second: refused
    growth = rss(pid) - rss_warm

    end = control.sizes()
    total = WARMUP_ADDRESSES * WARMUP_EACH + ADDRESSES * EACH
    assert end["request_ids"] == end["clients"] == end["keys_capacity"]
    assert end["request_ids_forgotten"] == total - end["keys_capacity"]
    assert end["clients_forgotten"] == WARMUP_ADDRESSES + ADDRESSES - end["keys_capacity"]
    assert end["paths"] == 1
    assert end["arrivals_kept"] + end["arrivals_forgotten"] == total
    assert end["arrivals_kept"] <= end["arrivals_capacity"]
    assert end["arrivals_unsettled"] == 0
    assert end["throttle_keys"] < ADDRESSES  # only the clients of the last second
    stats = control.stats()
    assert stats["total"] == total  # every answer still counted by status
    assert len(stats["by_request_id"]) == end["keys_capacity"]
    peak = control.peaks()[0]
    assert peak["exact"]
    assert peak["ok"] > 3  # many clients at once: the emulator's peak is of all of them

    time.sleep(1.05)  # every window over: one more client is then the only one kept
    from_address(emulator.url, 0, 1)
    assert control.sizes()["throttle_keys"] == 1

    assert growth <= RSS_BUDGET, f"grew {growth / MIB:.2f} MiB after the warm-up"
    # The server closes its side of each connection once the client has closed its own.
    wait_until(lambda: fds(pid) <= fds_before + 1)  # + 1: the admin client's connection
    assert threads(pid) == threads_before
