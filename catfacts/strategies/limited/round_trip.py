"""How long one request takes there and back, for the deadline estimates at the door.

A moving average learned from the first answers: a guess here would refuse short deadlines
forever, as nothing is sent while calls are refused.
"""

from __future__ import annotations


class RoundTrip:
    """The recent round trip to the upstream, in seconds; 0 until an answer came back."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def heard(self, sent: float, answered: float) -> None:
        """One request went at `sent` and its answer (or failure) came at `answered`."""
        self.seconds += (answered - sent - self.seconds) / 8
