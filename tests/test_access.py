"""Optional API keys, clients told apart, and hostile headers refused with a clear 4xx."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from catfacts.errors import ConfigError
from catfacts.settings import Settings
from tests.support import AppFactory

KEY, OTHER = "team-a-0123456789", "team-b-9876543210"


@pytest.fixture
def keyed(make_app: AppFactory) -> FlaskClient:
    return make_app(api_keys=f"{KEY},{OTHER}").test_client()


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "wrong-key-123"}, {"Authorization": "Basic x"}]
)
def test_without_a_valid_key_a_fact_call_is_a_json_401(
    keyed: FlaskClient, headers: dict[str, str]
) -> None:
    response = keyed.get("/cat_async_limited/1", headers=headers)
    assert response.status_code == 401
    assert response.json is not None
    assert "API key" in response.json["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {"Authorization": f"Bearer {OTHER}"}])
def test_a_valid_key_in_either_header_is_let_in(
    keyed: FlaskClient, headers: dict[str, str]
) -> None:
    response = keyed.get("/cat/1", headers=headers)
    assert response.status_code == 200
    assert len(response.json or []) == 1


@pytest.mark.parametrize("path", ["/hello/", "/healthz", "/metrics", "/openapi.json"])
def test_the_operators_endpoints_need_no_key(keyed: FlaskClient, path: str) -> None:
    assert keyed.get(path).status_code in (200, 404)  # /openapi.json: see test_openapi


def test_keys_can_come_from_a_file(tmp_path: Path, make_app: AppFactory) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# the teams' keys\n{KEY}\n\n{OTHER}  # team b\n")
    client = make_app(api_keys_file=str(keys)).test_client()
    assert client.get("/cat/0").status_code == 401
    assert client.get("/cat/0", headers={"X-API-Key": OTHER}).status_code == 200


@pytest.mark.parametrize("raw", ["short", "has space-in-it", "a" * 257])
def test_a_bad_key_setting_stops_start_up_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="CATFACTS_API_KEYS="):
        Settings.load({"CATFACTS_API_KEYS": raw})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-API-Key", "k" * 5000),
        ("X-API-Key", "key\x1b[31mred"),
        ("X-Request-ID", "r" * 5000),
        ("X-Request-ID", "id\x1b[2J"),
        ("X-Request-ID", "bad id\twith spaces"),
    ],
)
def test_oversized_or_hostile_headers_get_a_clear_400_and_never_reach_the_log(
    keyed: FlaskClient, name: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="catfacts"):
        response = keyed.get("/cat/1", headers={name: value})
    assert response.status_code == 400
    assert response.json is not None
    assert name in response.json["error"] or "API key" in response.json["error"]
    assert value not in response.text
    assert all(value not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("accept", ["text/html", "image/png, text/plain;q=0.5", "x" * 3000])
def test_an_accept_the_endpoint_cannot_answer_is_a_json_406(
    client: FlaskClient, accept: str
) -> None:
    response = client.get("/cat/1", headers={"Accept": accept})
    assert response.status_code == 406
    assert response.json is not None
    assert "application/json" in response.json["error"]


@pytest.mark.parametrize(
    "accept", ["*/*", "application/*", "application/json", "application/x-ndjson"]
)
def test_an_accept_that_allows_json_is_served(client: FlaskClient, accept: str) -> None:
    assert client.get("/cat/0", headers={"Accept": accept}).status_code == 200
