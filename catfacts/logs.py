"""Console logging with the request id on every line, including lines from the background loop.

The id lives in a context variable: Flask's thread sets it per request, and asyncio copies the
context into every task submitted from that thread, so the loop's lines carry it too.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_FORMAT = "%(asctime)s %(levelname)-7s %(process)d [%(request_id)s] %(name)s: %(message)s"
_VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request id of the call that produced it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def choose_request_id(incoming: str | None) -> str:
    """Keep the caller's id when it is a sane token, so logs join up across services."""
    if incoming and _VALID_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex[:16]


def configure_logging(level: str) -> None:
    """Send the package's logs to stderr once per process, whatever the number of apps."""
    logger = logging.getLogger("catfacts")
    logger.setLevel(level)
    if any(isinstance(f, RequestIdFilter) for h in logger.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)


PER_REQUEST_INFO_UP_TO = 20


def detail_level(n: int) -> int:
    """Log each upstream request at INFO for small calls only, so logging never slows a big one."""
    return logging.INFO if n <= PER_REQUEST_INFO_UP_TO else logging.DEBUG
