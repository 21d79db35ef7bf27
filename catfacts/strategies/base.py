"""What every strategy shares with its callers: the types they hand each other.

Here, below the web layer, so that a strategy needs nothing of how its facts are served.
"""

from __future__ import annotations

from collections.abc import Callable

from catfacts.errors import CatFactsError

# Hears of each fact as it arrives, by its index (from 1): a streamed answer sends it on at once.
OnFact = Callable[[int, str], None]
# Asked between requests (has the caller hung up, is the service stopping?): an error ends the call.
Interrupted = Callable[[], CatFactsError | None]
