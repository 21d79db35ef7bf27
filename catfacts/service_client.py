"""A client of a running catfacts service: ask for n facts streamed, read the lines as they come.

What `catfacts fetch` uses. Every way the call can fail becomes a `ServiceError` with one plain
sentence, so the command line never shows a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import urllib3

from catfacts.strategies import NDJSON, STRATEGIES

CONNECT_TIMEOUT = 5.0
# The service sends a line at least every 5 s (a progress line while the limiter waits), so a
# read that waits much longer than that means the service or the network is stuck.
READ_TIMEOUT = 30.0


class ServiceError(Exception):
    """The call failed; `message` says why in one sentence."""

    def __init__(
        self, message: str, line: dict[str, Any] | None = None, *, reached: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line  # the service's error line or body, when it sent one
        self.reached = reached  # False: nothing answered at all


def stream_facts(url: str, strategy: str, n: int) -> Iterator[dict[str, Any]]:
    """The call's NDJSON lines, one dict each; ServiceError when it cannot start or fails."""
    target = f"{url.rstrip('/')}{STRATEGIES[strategy].path}/{n}"
    http = urllib3.PoolManager(
        retries=False, timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    )
    try:
        response = http.request("GET", target, headers={"Accept": NDJSON}, preload_content=False)
    except urllib3.exceptions.HTTPError as error:
        message = f"cannot reach the catfacts service at {url}: {_reason(error)}"
        raise ServiceError(message, reached=False) from None
    try:
        if response.status != 200 or NDJSON not in response.headers.get("Content-Type", ""):
            raise _refused(url, response)
        yield from _lines(url, response)
    finally:
        response.release_conn()
        http.clear()


def _lines(url: str, response: urllib3.BaseHTTPResponse) -> Iterator[dict[str, Any]]:
    try:
        for raw in response:
            if raw.strip():
                line = json.loads(raw)
                if "error" in line:
                    raise ServiceError(f"the service failed the call: {line['error']}", line)
                yield line
    except urllib3.exceptions.HTTPError as error:
        message = f"the connection to {url} broke: {_reason(error)}"
        raise ServiceError(message, reached=False) from None
    except ValueError:
        raise ServiceError(f"the service at {url} sent a line that is not JSON") from None


def _refused(url: str, response: urllib3.BaseHTTPResponse) -> ServiceError:
    """The service answered, but not with a stream: say what it said."""
    try:
        body = json.loads(response.data)
        error = body["error"]
    except (ValueError, TypeError, KeyError):
        return ServiceError(f"{url} answered {response.status}, not as a catfacts service would")
    return ServiceError(f"the service answered {response.status}: {error}", body)


def _reason(error: Exception) -> str:
    """The innermost cause, which names the real trouble (connection refused, timed out)."""
    reason = getattr(error, "reason", None)
    while reason is not None and getattr(reason, "reason", None) is not None:
        reason = reason.reason
    text = str(reason or error)
    if "Connection refused" in text:
        return "connection refused (is it running? `catfacts serve` starts it)"
    if isinstance(reason, urllib3.exceptions.NameResolutionError):  # a kind of timeout, to urllib3
        return "no such host"
    if isinstance(error, urllib3.exceptions.TimeoutError) or "timed out" in text:
        return "timed out"
    return text
