"""Which address is the client's (`catfacts/web/proxy.py`): X-Forwarded-For is believed from the
peers in CATFACTS_TRUSTED_PROXIES only, so a client can never choose its own."""

from __future__ import annotations

import pytest

from catfacts.errors import ConfigError
from catfacts.settings import Settings
from tests.support import AppFactory

FROM_PROXY = {"REMOTE_ADDR": "10.0.0.5"}
FROM_CLIENT = {"REMOTE_ADDR": "127.0.0.2"}


def statuses(
    make_app: AppFactory, environ: dict[str, str], forwarded: list[str], **settings: str
) -> list[int]:
    """Each call's status, one call per X-Forwarded-For value, against a limit of 1 a client."""
    client = make_app(inbound_limit="1/minute", **settings).test_client()
    return [
        client.get("/cat/0", environ_base=environ, headers={"X-Forwarded-For": value}).status_code
        for value in forwarded
    ]


def test_from_a_trusted_proxy_each_forwarded_address_is_its_own_client(
    make_app: AppFactory,
) -> None:
    forwarded = ["203.0.113.1", "203.0.113.2", "198.51.100.7, 203.0.113.1"]
    # The last address is the one the proxy saw; what came before it, the client wrote.
    assert statuses(make_app, FROM_PROXY, forwarded, trusted_proxies="10.0.0.0/8") == [
        200,
        200,
        429,
    ]


def test_from_any_other_peer_the_header_is_ignored(make_app: AppFactory) -> None:
    forwarded = ["203.0.113.1", "203.0.113.2"]
    assert statuses(make_app, FROM_CLIENT, forwarded, trusted_proxies="10.0.0.0/8") == [200, 429]
    assert statuses(make_app, FROM_PROXY, forwarded) == [200, 429]  # no proxy trusted: the default


def test_a_trusted_proxy_seen_as_an_ipv4_mapped_address_is_still_trusted(
    make_app: AppFactory,
) -> None:
    """gunicorn bound to [::] sees nginx on 127.0.0.1 as ::ffff:127.0.0.1."""
    mapped = {"REMOTE_ADDR": "::ffff:10.0.0.5"}
    forwarded = ["203.0.113.1", "203.0.113.2"]
    assert statuses(make_app, mapped, forwarded, trusted_proxies="10.0.0.0/8") == [200, 200]


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings.load({"CATFACTS_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"})
    assert [str(network) for network in settings.trusted_proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    with pytest.raises(ConfigError, match="CATFACTS_TRUSTED_PROXIES='nginx'"):
        Settings.load({"CATFACTS_TRUSTED_PROXIES": "nginx"})
