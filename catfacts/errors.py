"""The errors a caller can meet: a small hierarchy of values, and nothing that serves them.

Every failure is a `CatFactsError` carrying the HTTP status and message a caller should see; the
web layer (`web/errors.py`) is the one place that answers them in JSON. `ConfigError` is the one
error of a bad setting, the service's and the emulator's alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catfacts.upstream.headers import Quota


class ConfigError(ValueError):
    """A setting has a value the service (or the emulator) cannot run with; the message is meant
    for the user as is."""


class CatFactsError(Exception):
    """A failure with the status and message a caller should see."""

    status = 500
    headers: dict[str, str] = {}  # noqa: RUF012 (read only: answered with the error)

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.fetched: int | None = None
        self.requested: int | None = None
        self.details: dict[str, Any] = {}

    def progress(self, fetched: int, requested: int) -> CatFactsError:
        """Record how far the call got, so the caller knows what the failure cost."""
        self.fetched, self.requested = fetched, requested
        return self

    def detail(self, **details: Any) -> CatFactsError:
        """Add fields to the JSON answer (an estimate, the facts fetched before a shutdown)."""
        self.details.update(details)
        return self

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.fetched is not None:
            body["fetched"] = self.fetched
            body["requested"] = self.requested
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return {**body, **self.details}


class BadRequest(CatFactsError):
    """The caller asked for something the service will not do."""

    status = 400


class Unauthorized(CatFactsError):
    """API keys are configured and the call carries none that is valid."""

    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="catfacts"'}  # noqa: RUF012


class NotAcceptable(CatFactsError):
    """The caller's `Accept` allows none of the types the endpoint answers with."""

    status = 406


class UpstreamError(CatFactsError):
    """The upstream did not give us a fact; `quota` holds its rate-limit headers, if it answered."""

    quota: Quota | None = None

    def with_quota(self, quota: Quota) -> UpstreamError:
        self.quota = quota
        return self


class UpstreamRateLimited(UpstreamError):
    """The upstream answered 429: its limit is spent; `retry_after` says for how long."""

    status = 503


class UpstreamBadResponse(UpstreamError):
    """The upstream answered, but not with a fact (5xx, malformed JSON, no `fact`)."""

    status = 502


class UpstreamRedirected(UpstreamError):
    """The upstream answered with a redirect: the fact is at `location`, one more request away.

    The limited strategy sends that request with a slot of its own: every hop is an arrival.
    """

    status = 502

    def __init__(self, message: str, location: str, permanent: bool) -> None:
        super().__init__(message)
        self.location = location
        self.permanent = permanent


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time, or could not be reached."""

    status = 504


class ServiceUnavailable(CatFactsError):
    """The service cannot take the call now (busy, shutting down, shared limiter unreachable)."""

    status = 503


class ClientGone(CatFactsError):
    """The caller hung up before the answer was ready; nginx's 499, seen only in the log."""

    status = 499
