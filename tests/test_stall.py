"""The stall watch fails a call only for the upstream's silence, never for time this process did
not run: a pause (SIGSTOP, a VM paused; here the loop blocked) is taken off the count."""

from __future__ import annotations

import asyncio
import time

import pytest

from catfacts.errors import UpstreamTimeout
from catfacts.observe.timeline import Timeline
from catfacts.strategies.limited.calls import Call, Item
from catfacts.strategies.limited.stall import StallWatch

WINDOW, TIMEOUT = 0.5, 0.25  # a stall: 3 windows and 2 time-outs, 2 s


async def wait_for_one_fact(pause: float, then: float) -> list[str]:
    """A call for one fact: the process stops for `pause` s, then the fact comes `then` s later."""
    watch = StallWatch(lambda: WINDOW, TIMEOUT)
    watch.progressed()
    call = Call(1, "stall-test", Timeline("limited", 1, "stall-test", (1, WINDOW)))

    async def answer() -> None:
        await asyncio.sleep(0.05)
        time.sleep(pause)  # nothing in this process runs meanwhile
        await asyncio.sleep(then)
        call.deliver(Item(1, 0.0), "a fact")

    answering = asyncio.create_task(answer())
    try:
        return await watch.until_done(call)
    finally:
        answering.cancel()


def test_a_pause_longer_than_the_stall_does_not_fail_the_call() -> None:
    assert asyncio.run(wait_for_one_fact(pause=2.5, then=0.1)) == ["a fact"]


def test_silence_after_a_pause_still_fails_the_call_once_it_lasts_a_stall() -> None:
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="no fact for 2 s"):
        asyncio.run(wait_for_one_fact(pause=1.0, then=5.0))
    assert time.monotonic() - started >= 1.0 + 2.0 - 0.5  # the pause, a stall less one look
