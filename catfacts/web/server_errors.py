"""gunicorn's own refusals, answered in JSON like every other error of the service.

gunicorn refuses some requests before the app sees them: a request line over 4094 bytes (414),
headers over its limits (431), a malformed request (400). Its answer is an HTML page written by
`gunicorn.util.write_error`, the one function every such refusal goes through (gunicorn has no
hook for it). `install()` replaces that function, once per process, with one that writes the
same status as `{"error": ..., "status": ...}`.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

_installed = False


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `write_error`, with a JSON body; the message is JSON-escaped, never raw."""
    body = json.dumps({"error": mesg or reason, "status": status_int}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    global _installed  # noqa: PLW0603 (once per process: gunicorn's module is global too)
    if not _installed:
        util.write_error = write_json_error
        _installed = True
