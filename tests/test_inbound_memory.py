"""The inbound limit's memory storage forgets clients it no longer counts (`inbound_memory.py`)."""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from catfacts.web.inbound_memory import ForgetfulMemoryStorage
from tests.support import AppFactory

CLIENTS = 20_000


def test_twenty_thousand_clients_a_window_leave_at_most_one_windows_worth() -> None:
    later = 0.0
    storage = ForgetfulMemoryStorage(clock=lambda: time.time() + later)
    for crowd in range(3):
        for n in range(CLIENTS):
            assert storage.acquire_entry(f"{crowd}:{n}", 5, 1)
        assert len(storage.events) <= CLIENTS  # the crowds before were forgotten
        later += 2.0  # a window later on the sweep's clock: this crowd no longer counts
    assert len(storage.locks) <= CLIENTS


def test_a_client_still_counted_is_never_forgotten() -> None:
    later = 0.0
    storage = ForgetfulMemoryStorage(clock=lambda: time.time() + later)
    assert storage.acquire_entry("stays", 1, 60)
    later = 2.0
    for n in range(3 * CLIENTS // 10):
        storage.acquire_entry(f"passing:{n}", 1, 1)
    assert not storage.acquire_entry("stays", 1, 60)  # its one call a minute is still spent


def test_the_app_counts_in_the_forgetful_storage(make_app: AppFactory) -> None:
    client: FlaskClient = make_app(inbound_limit="1/minute").test_client()
    assert client.get("/cat/0").status_code == 200
    assert client.get("/cat/0").status_code == 429
    (limiter,) = client.application.extensions["limiter"]
    assert isinstance(limiter.storage, ForgetfulMemoryStorage)
