"""The emulator's /facts: Laravel's paginated envelope, over real sockets."""

from __future__ import annotations

import math
from typing import Any

import pytest

from catfacts.emulator.facts import FACTS
from catfacts.emulator.pagination import page_window
from tests.support import Api

LAST_PAGE = math.ceil(len(FACTS) / 10)


# --- GET /facts ------------------------------------------------------------------------------


def facts_json(facts: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"fact": fact, "length": len(fact)} for fact in facts]


def test_the_first_page_has_laravels_envelope(api: Api) -> None:
    body = api.get_json("/facts")
    assert body == {
        "current_page": 1,
        "data": facts_json(FACTS[:10]),
        "first_page_url": f"{api.url}/facts?page=1",
        "from": 1,
        "last_page": LAST_PAGE,
        "last_page_url": f"{api.url}/facts?page={LAST_PAGE}",
        "links": body["links"],  # checked on their own below
        "next_page_url": f"{api.url}/facts?page=2",
        "path": f"{api.url}/facts",
        "per_page": 10,
        "prev_page_url": None,
        "to": 10,
        "total": len(FACTS),
    }
    assert list(body) == sorted(body)  # Laravel's field order, which happens to be alphabetical


def test_page_two_follows_page_one(api: Api) -> None:
    body = api.get_json("/facts?page=2")
    assert body["current_page"] == 2
    assert body["data"] == facts_json(FACTS[10:20])
    assert (body["from"], body["to"]) == (11, 20)
    assert body["prev_page_url"] == f"{api.url}/facts?page=1"
    assert body["next_page_url"] == f"{api.url}/facts?page=3"


def test_the_last_page_holds_the_rest_and_has_no_next(api: Api) -> None:
    body = api.get_json(f"/facts?page={LAST_PAGE}")
    assert body["data"] == facts_json(FACTS[(LAST_PAGE - 1) * 10 :])
    assert body["to"] == len(FACTS)
    assert body["next_page_url"] is None


def test_limit_and_max_length_shape_the_pages(api: Api) -> None:
    short = tuple(fact for fact in FACTS if len(fact) <= 40)
    body = api.get_json("/facts?limit=5&max_length=40&page=2")
    assert body["per_page"] == 5
    assert body["total"] == len(short)
    assert body["last_page"] == math.ceil(len(short) / 5)
    assert body["data"] == facts_json(short[5:10])


def test_a_page_past_the_end_is_empty(api: Api) -> None:
    body = api.get_json(f"/facts?page={LAST_PAGE + 5}")
    assert body["data"] == []
    assert body["from"] is None
    assert body["to"] is None
    assert body["next_page_url"] is None
    assert body["prev_page_url"] == f"{api.url}/facts?page={LAST_PAGE + 4}"


@pytest.mark.parametrize("page", ["abc", "0", "-3", "2.5"])
def test_a_page_that_is_not_a_positive_integer_is_page_one(api: Api, page: str) -> None:
    assert api.get_json(f"/facts?page={page}")["current_page"] == 1


def test_links_are_laravels_with_previous_and_next(api: Api) -> None:
    links = api.get_json("/facts?page=2")["links"]
    assert links[0] == {
        "url": f"{api.url}/facts?page=1",
        "label": "&laquo; Previous",
        "active": False,
    }
    assert links[-1] == {"url": f"{api.url}/facts?page=3", "label": "Next &raquo;", "active": False}
    assert {"url": f"{api.url}/facts?page=2", "label": "2", "active": True} in links
    assert {"url": None, "label": "...", "active": False} in links
    assert [link["label"] for link in links if link["active"]] == ["2"]


def test_on_page_one_previous_has_no_url(api: Api) -> None:
    assert api.get_json("/facts")["links"][0]["url"] is None


@pytest.mark.parametrize(
    ("current", "last", "window"),
    [
        (1, 1, [1]),
        (2, 13, list(range(1, 14))),
        (1, 21, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 20, 21]),
        (7, 21, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 20, 21]),
        (8, 21, [1, 2, None, 5, 6, 7, 8, 9, 10, 11, None, 20, 21]),
        (14, 21, [1, 2, None, 11, 12, 13, 14, 15, 16, 17, None, 20, 21]),
        (15, 21, [1, 2, None, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]),
        (21, 21, [1, 2, None, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]),
    ],
)
def test_the_page_links_window_is_laravels(
    current: int, last: int, window: list[int | None]
) -> None:
    assert page_window(current, last) == window
