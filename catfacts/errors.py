"""The errors a caller can meet: a small hierarchy of values, and nothing that serves them.

Every failure is a `CatFactsError` carrying the HTTP status and message a caller should see; the
web layer (`web/errors.py`) is the one place that answers them in JSON. `ConfigError` is the one
error of a bad setting, the service's and the emulator's alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from catfacts.upstream.headers import Quota


class ConfigError(ValueError):
    """A setting has a value the service (or the emulator) cannot run with; the message is meant
    for the user as is."""


class CatFactsError(Exception):
    """A failure with the status and message a caller should see.

    A value: once made it does not change, so one error may end many calls, or be raised in one
    thread and read in another. What a call adds to it (how far it got, fields for the JSON
    answer) comes as a new error from the `with_...` methods; the original stays as it was.
    """

    status = 500
    headers: dict[str, str] = {}  # noqa: RUF012 (read only: answered with the error)

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self._set(message=message, retry_after=retry_after, fetched=None, requested=None)
        self._set(details=MappingProxyType({}))

    message: str
    retry_after: int | None
    fetched: int | None
    requested: int | None
    details: Mapping[str, Any]

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("__"):  # Python's own: a traceback, a cause, notes
            super().__setattr__(name, value)
            return
        raise AttributeError(f"{type(self).__name__} does not change; use its with_ methods")

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self._set(**(state or {}))  # a copy or an unpickled error is being made

    def _set(self, **fields: Any) -> None:
        """Fill in fields while the error is being made (`__init__`, `_replace`), never after."""
        self.__dict__.update(fields)

    def _replace(self, **fields: Any) -> Self:
        """A copy of this error with `fields` changed; its traceback and cause are not copied."""
        new = type(self).__new__(type(self), *self.args)
        new._set(**{k: v for k, v in self.__dict__.items() if not k.startswith("__")})
        new._set(**fields)
        return new

    def with_progress(self, fetched: int, requested: int) -> Self:
        """This error, saying how far the call got, so the caller knows what the failure cost."""
        return self._replace(fetched=fetched, requested=requested)

    def with_details(self, **details: Any) -> Self:
        """This error with more fields in its JSON answer (an estimate, the facts so far)."""
        return self._replace(details=MappingProxyType({**self.details, **details}))

    def without_details(self, *names: str) -> Self:
        """This error without the fields `names` in its JSON answer."""
        kept = {name: value for name, value in self.details.items() if name not in names}
        return self._replace(details=MappingProxyType(kept))

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


class NotServed(CatFactsError):
    """This service does not serve the endpoint (`CATFACTS_UNLIMITED_STRATEGIES=off`)."""

    status = 404


class NotAcceptable(CatFactsError):
    """The caller's `Accept` allows none of the types the endpoint answers with."""

    status = 406


class UpstreamError(CatFactsError):
    """The upstream did not give us a fact; `quota` holds its rate-limit headers, if it answered."""

    quota: Quota | None = None

    def with_quota(self, quota: Quota) -> Self:
        """This error, carrying the rate-limit headers of the answer that brought it."""
        return self._replace(quota=quota)


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
    location: str
    permanent: bool

    def __init__(self, message: str, location: str, permanent: bool) -> None:
        super().__init__(message)
        self._set(location=location, permanent=permanent)


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time, or could not be reached."""

    status = 504


class ServiceUnavailable(CatFactsError):
    """The service cannot take the call now (busy, shutting down, shared limiter unreachable)."""

    status = 503


def shutting_down(fetched: int | None = None, n: int | None = None) -> ServiceUnavailable:
    """The one refusal shutdown gives, at the door or to a call it cuts short (with its count)."""
    if fetched is None or n is None:
        return ServiceUnavailable("the service is shutting down", retry_after=1)
    return ServiceUnavailable(f"the service is shutting down; got {fetched} of {n} facts")


class ClientGone(CatFactsError):
    """The caller hung up before the answer was ready; nginx's 499, seen only in the log."""

    status = 499
