"""One fact as the upstream sent it, with what the upstream said about its quota.

The quota is read from the answer's headers only when someone asks for it: the limited strategy
asks for every one, all at once for none, and reading costs about as much as finding the fact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from catfacts.upstream.headers import Quota


class Reply:
    """One fact, with what the upstream said about its quota when it sent it.

    `Reply(fact, quota)`; or `Reply.unread(fact, headers)`, whose quota is read from the headers
    when first asked for, as of when the answer came. The limited strategy asks for every one, all
    at once for none, and reading the headers costs about as much as finding the fact.
    """

    __slots__ = ("_headers", "_quota", "_wall", "fact")

    def __init__(self, fact: str, quota: Quota) -> None:
        self.fact = fact
        self._quota: Quota | None = quota
        self._headers: Mapping[str, str] | None = None
        self._wall = 0.0

    @classmethod
    def unread(cls, fact: str, headers: Mapping[str, str]) -> Reply:
        """A reply whose quota is still in `headers` (which must not change)."""
        reply = cls.__new__(cls)
        reply.fact, reply._quota, reply._headers, reply._wall = fact, None, headers, time.time()
        return reply

    @property
    def quota(self) -> Quota:
        if self._quota is None:
            assert self._headers is not None
            self._quota = Quota.from_headers(self._headers, self._wall)
            self._headers = None
        return self._quota

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reply):
            return NotImplemented
        return (self.fact, self.quota) == (other.fact, other.quota)

    def __hash__(self) -> int:
        return hash((self.fact, self.quota))

    def __repr__(self) -> str:
        return f"Reply(fact={self.fact!r}, quota={self.quota!r})"
