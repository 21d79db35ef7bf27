"""Turns go round clients first, then round each client's calls."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from catfacts.observe.timeline import Timeline
from catfacts.strategies.limited.calls import Call
from catfacts.strategies.limited.turns import Turns


def new_call(n: int, request_id: str, *, client: str) -> Call:
    """A call of `client`'s, with a timeline nobody reads."""
    return Call(n, request_id, Timeline("limited", n, request_id, (10, 1.0)), client=client)


def on_loop(test: Callable[[], None]) -> Callable[[], None]:
    """Calls need a running loop (their result is a future): run the test body on one."""

    def run() -> None:
        async def body() -> None:
            test()

        asyncio.run(body())

    run.__name__ = test.__name__
    return run


def served(turns: Turns, count: int) -> Counter[str]:
    """Who got the next `count` turns, taking one item from each call served."""
    got: Counter[str] = Counter()
    for _ in range(count):
        call = turns.next_call()
        assert call is not None
        call.pending.popleft()
        got[call.client] += 1
    return got


@on_loop
def test_a_client_with_many_calls_gets_the_same_turns_as_one_with_a_single_call() -> None:
    turns = Turns()
    for _ in range(50):
        turns.add(new_call(100, "many", client="10.0.0.1"))
    turns.add(new_call(100, "one", client="10.0.0.2"))
    assert served(turns, 100) == {"10.0.0.1": 50, "10.0.0.2": 50}


@on_loop
def test_a_clients_own_calls_take_turns_between_them() -> None:
    turns = Turns()
    calls = [new_call(10, f"call-{i}", client="same") for i in range(3)]
    for call in calls:
        turns.add(call)
    served(turns, 9)
    assert [len(call.pending) for call in calls] == [7, 7, 7]


@on_loop
def test_a_client_with_nothing_queued_is_skipped_and_removed_when_done() -> None:
    turns = Turns()
    idle, busy = new_call(1, "idle", client="a"), new_call(5, "busy", client="b")
    turns.add(idle)
    turns.add(busy)
    idle.pending.clear()
    assert served(turns, 3) == {"b": 3}
    turns.remove(idle)
    turns.remove(busy)
    assert not turns
    assert len(turns) == 0
    assert turns.next_call() is None


@on_loop
def test_a_new_call_waits_for_its_own_clients_calls_and_one_turn_of_each_other_client() -> None:
    turns = Turns()
    for _ in range(4):
        turns.add(new_call(100, "crowd", client="crowd"))
    turns.add(new_call(3, "small", client="other"))
    # A newcomer: its 10 turns, the crowd's 10, and the small call's 3.
    assert turns.sent_before("new", 10) == 10 + 10 + 3
    # One more call of the crowd's: it shares the crowd's turns with its 4 calls.
    assert turns.sent_before("crowd", 10) == (10 + 4 * 10) + 3


@on_loop
def test_the_limiters_choice_of_client_is_served_and_its_turn_goes_round() -> None:
    turns = Turns()
    for client in ("a", "b", "c"):
        turns.add(new_call(5, client, client=client))
    assert turns.waiting() == ["a", "b", "c"]
    chosen = turns.next_call("c")
    assert chosen is not None and chosen.client == "c"
    assert turns.waiting() == ["a", "b", "c"]  # c went to the back: its turn went round
    chosen = turns.next_call("b")
    assert chosen is not None and chosen.client == "b"
    assert turns.waiting() == ["a", "c", "b"]


@on_loop
def test_a_chosen_client_with_nothing_queued_any_more_gives_its_turn_to_the_next() -> None:
    turns = Turns()
    gone, other = new_call(1, "gone", client="gone"), new_call(5, "other", client="other")
    turns.add(gone)
    turns.add(other)
    gone.pending.clear()
    assert turns.waiting() == ["other"]
    chosen = turns.next_call("gone")
    assert chosen is other
