"""Laravel's length-aware paginator, as JSON: the envelope catfact.ninja wraps /facts in.

Clients follow `next_page_url` and read `last_page`, so the envelope must match Laravel's to the
field, including the `links` a Laravel front end would render.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ON_EACH_SIDE = 3  # Laravel's default: page links shown on each side of the current page


def paginate(items: Sequence[Any], *, page: int, per_page: int, path: str) -> dict[str, Any]:
    """Page `page` (from 1) of `items`, `per_page` to a page, with URLs built on `path`."""
    total = len(items)
    last_page = max(-(-total // per_page), 1)
    data = list(items[(page - 1) * per_page : page * per_page])
    first = (page - 1) * per_page + 1 if data else None
    return {
        "current_page": page,
        "data": data,
        "first_page_url": _url(path, 1),
        "from": first,
        "last_page": last_page,
        "last_page_url": _url(path, last_page),
        "links": _links(path, page, last_page),
        "next_page_url": _url(path, page + 1) if page < last_page else None,
        "path": path,
        "per_page": per_page,
        "prev_page_url": _url(path, page - 1) if page > 1 else None,
        "to": first + len(data) - 1 if first is not None else None,
        "total": total,
    }


def page_window(current: int, last: int) -> list[int | None]:
    """The page numbers Laravel links to, None standing for a "..." gap.

    All pages when there are few; otherwise the first two and the last two, plus a slider around
    the current page, merged with the nearer end when the current page is close to it.
    """
    if last < ON_EACH_SIDE * 2 + 8:
        return list(range(1, last + 1))
    window = ON_EACH_SIDE + 4
    if current <= window:
        return [*range(1, window + ON_EACH_SIDE + 1), None, last - 1, last]
    if current > last - window:
        return [1, 2, None, *range(last - window - ON_EACH_SIDE + 1, last + 1)]
    slider = range(current - ON_EACH_SIDE, current + ON_EACH_SIDE + 1)
    return [1, 2, None, *slider, None, last - 1, last]


def _links(path: str, current: int, last: int) -> list[dict[str, Any]]:
    previous_url = _url(path, current - 1) if current > 1 else None
    next_url = _url(path, current + 1) if current < last else None
    pages = [
        {"url": None, "label": "...", "active": False}
        if number is None
        else {"url": _url(path, number), "label": str(number), "active": number == current}
        for number in page_window(current, last)
    ]
    return [
        {"url": previous_url, "label": "&laquo; Previous", "active": False},
        *pages,
        {"url": next_url, "label": "Next &raquo;", "active": False},
    ]


def _url(path: str, page: int) -> str:
    # Laravel's paginator keeps only the page in its URLs unless told to append the query.
    return f"{path}?page={page}"
