"""The emulator's memory is bounded: what it forgets, and that its answers and peaks stay exact.

In-process, on made-up times, so each bound can be reached in a few thousand steps; the soak test
(test_soak) checks the same over real sockets, and `python -m bench soak` under `make run`.
"""

from __future__ import annotations

import random

import pytest

from catfacts.emulator.config import EmulatorConfig
from catfacts.emulator.limit_req import LeakyBucketThrottle
from catfacts.emulator.process import max_in_any_window
from catfacts.emulator.state import EmulatorState
from catfacts.emulator.throttle import FixedWindowThrottle
from catfacts.emulator.traffic import KEYS_KEPT, RecentCounts, TrafficLog
from catfacts.rates import Rate


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def answer_out_of_order(
    log: TrafficLog, times: list[float], rng: random.Random, *, pending: int = 0
) -> list[tuple[float, int]]:
    """Arrivals at `times`, each answered 200 or 429 a few arrivals later, in shuffled order.

    The `pending` first arrivals are never answered. Returns every (time, status), as
    `max_in_any_window` reads them, unanswered ones with status 0.
    """
    seen: list[tuple[float, int]] = []
    owed: list[tuple[int, int]] = []  # (ticket, index in seen)
    for index, at in enumerate(times):
        ticket = log.arrive(at)
        status = rng.choice((200, 200, 429))
        seen.append((at, 0 if index < pending else status))
        if index >= pending:
            owed.append((ticket, index))
        rng.shuffle(owed)
        while len(owed) > rng.randrange(4):
            ticket, where = owed.pop()
            log.answered(ticket, seen[where][1], "c", None, path="/fact")
    for ticket, where in owed:
        log.answered(ticket, seen[where][1], "c", None, path="/fact")
    return seen


def random_times(rng: random.Random, count: int) -> list[float]:
    times, at = [], 0.0
    for _ in range(count):
        at += rng.choice((0.0, 0.001, 0.01, 0.05, 0.2, 0.7))
        times.append(at)
    return times


def peak_by_window(log: TrafficLog) -> dict[float, tuple[int, int, bool]]:
    return {p["window"]: (p["all"], p["ok"], p["exact"]) for p in log.peaks()}


# --- Arrivals and their peaks ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_the_running_peaks_are_those_of_the_arrivals(seed: int) -> None:
    rng = random.Random(seed)
    log = TrafficLog([1.0, 0.25, 5.0])
    seen = answer_out_of_order(log, random_times(rng, 3000), rng, pending=3)
    assert [tuple(arrival) for arrival in log.arrivals_json()] == seen
    for window, (most, most_ok, exact) in peak_by_window(log).items():
        assert most == max_in_any_window(seen, window)
        assert most_ok == max_in_any_window(seen, window, statuses={200})
        assert exact


@pytest.mark.parametrize("seed", range(5))
def test_the_peaks_count_the_arrivals_the_ring_forgot(seed: int) -> None:
    rng = random.Random(seed)
    log = TrafficLog([1.0, 0.25], capacity=64)
    seen = answer_out_of_order(log, random_times(rng, 5000), rng)
    assert log.forgotten == 5000 - 64
    assert log.kept == 64
    assert [tuple(arrival) for arrival in log.arrivals_json()] == seen[-64:]
    for window, (most, most_ok, exact) in peak_by_window(log).items():
        assert exact  # no window of 1 s held more than 64 of these arrivals
        assert most == max_in_any_window(seen, window)
        assert most_ok == max_in_any_window(seen, window, statuses={200})


def test_a_window_longer_than_the_ring_gives_a_lower_bound_and_says_so() -> None:
    log = TrafficLog([100.0], capacity=10)
    seen = answer_out_of_order(log, [i * 0.1 for i in range(50)], random.Random(1))
    ((most, most_ok, exact),) = peak_by_window(log).values()
    assert not exact
    assert 10 <= most <= max_in_any_window(seen, 100.0) == 50
    assert most_ok <= max_in_any_window(seen, 100.0, statuses={200})


def test_a_request_never_answered_holds_nothing_back() -> None:
    log = TrafficLog([1.0], capacity=16)
    seen = answer_out_of_order(log, [i * 0.3 for i in range(200)], random.Random(2), pending=1)
    assert log.sizes_json()["arrivals_unsettled"] == 0  # the ring settled it as it was
    ((most, most_ok, exact),) = peak_by_window(log).values()
    assert exact
    assert (most, most_ok) == (
        max_in_any_window(seen, 1.0),
        max_in_any_window(seen, 1.0, statuses={200}),
    )


def test_new_windows_are_computed_again_from_the_arrivals_kept() -> None:
    rng = random.Random(3)
    log = TrafficLog([1.0])
    seen = answer_out_of_order(log, random_times(rng, 500), rng)
    log.watch([2.0, 0.5])
    peaks = peak_by_window(log)
    assert set(peaks) == {2.0, 0.5}
    for window, (most, most_ok, _) in peaks.items():
        assert most == max_in_any_window(seen, window)
        assert most_ok == max_in_any_window(seen, window, statuses={200})


def test_clear_forgets_the_arrivals_their_peaks_and_late_answers() -> None:
    log = TrafficLog([1.0], capacity=8)
    late = log.arrive(0.0)
    for i in range(20):
        log.answered(log.arrive(0.01 * i), 200, "c", "r", path="/fact")
    log.clear()
    log.answered(late, 200, "c", "r", path="/fact")
    assert log.arrivals_json() == []
    assert log.stats_json()["total"] == 0
    assert log.forgotten == 0
    assert peak_by_window(log) == {1.0: (0, 0, True)}
    log.answered(log.arrive(5.0), 429, "c", "r", path="/fact")
    assert peak_by_window(log) == {1.0: (1, 0, True)}


# --- Counts by key ---------------------------------------------------------------------------


def test_counts_by_key_keep_the_most_recently_seen_keys() -> None:
    counts = RecentCounts(capacity=3)
    for key in ("a", "b", "c", "a", "d"):  # "b" is the least recently seen when "d" comes
        counts.count(key, 200)
    counts.count("a", 429)
    assert counts.to_json() == {"c": {"200": 1}, "d": {"200": 1}, "a": {"200": 2, "429": 1}}
    assert (len(counts), counts.forgotten) == (3, 1)
    counts.clear()
    assert (len(counts), counts.forgotten) == (0, 0)


def test_the_traffic_log_keeps_a_bounded_number_of_clients_and_request_ids() -> None:
    log = TrafficLog(keys_kept=100)
    for i in range(1000):
        log.answered(log.arrive(i * 0.001), 200, f"10.0.{i // 250}.{i % 250}", f"id-{i}", path="/")
    stats = log.stats_json()
    assert stats["total"] == stats["statuses"]["200"] == 1000  # every answer, still counted
    assert list(stats["by_request_id"]) == [f"id-{i}" for i in range(900, 1000)]
    assert len(stats["by_client"]) == 100
    assert stats["by_path"] == {"/": {"200": 1000}}
    sizes = log.sizes_json()
    assert (sizes["request_ids"], sizes["request_ids_forgotten"]) == (100, 900)


def test_tag_counts_are_bounded_too() -> None:
    state = EmulatorState(EmulatorConfig(tag_facts=True))
    assert state.tag("fact", "kept") == "fact [kept #1]"
    for i in range(KEYS_KEPT + 10):
        state.tag("fact", f"id-{i}")
        if i % 100 == 0:
            assert state.tag("fact", "kept").startswith("fact [kept #")  # seen now and then
    assert state.sizes_json()["tag_ids"] == KEYS_KEPT
    seen = 1 + len(range(0, KEYS_KEPT + 10, 100)) + 1
    assert state.tag("fact", "kept") == f"fact [kept #{seen}]"
    assert state.tag("fact", "id-0") == "fact [id-0 #1]"  # forgotten long ago: starts again


# --- The rate limiters forget the clients whose windows are over ------------------------------


class NeverForgets(FixedWindowThrottle):
    def _forget_over(self, now: float) -> None:
        pass


class BucketsNeverForget(LeakyBucketThrottle):
    def _forget_drained(self, now: int) -> None:
        pass


RATES = [Rate(3, 1.0), Rate(10, 5.0)]


@pytest.mark.parametrize("seed", range(4))
def test_a_throttle_that_forgets_decides_as_one_that_never_does(seed: int) -> None:
    rng, clock = random.Random(seed), Clock()
    forgetful = FixedWindowThrottle(RATES, clock=clock, wall_clock=clock)
    reference = NeverForgets(RATES, clock=clock, wall_clock=clock)
    for _ in range(5000):
        clock.now += rng.choice((0.0, 0.01, 0.1, 0.5, 1.0, 5.0))
        key = f"client-{rng.randrange(50)}"
        assert forgetful.hit(key) == reference.hit(key)
    assert len(forgetful) <= len(reference) == 50


def test_a_throttle_keeps_only_the_clients_of_its_longest_window() -> None:
    clock = Clock()
    throttle = FixedWindowThrottle(RATES, clock=clock)
    for i in range(6000):
        clock.now += 0.01
        throttle.hit(f"127.0.{i // 250}.{i % 250}")
    assert len(throttle) <= 501  # those hit within the last 5 s
    clock.now += 5.0
    throttle.hit("late")
    assert len(throttle) == 1


@pytest.mark.parametrize(("seed", "burst"), [(0, 0), (1, 2), (2, 5)])
def test_a_leaky_bucket_that_forgets_decides_as_one_that_never_does(seed: int, burst: int) -> None:
    rng, clock = random.Random(seed), Clock()
    forgetful = LeakyBucketThrottle(RATES, burst=burst, clock=clock)
    reference = BucketsNeverForget(RATES, burst=burst, clock=clock)
    for _ in range(5000):
        clock.now += rng.choice((0.0, 0.001, 0.05, 0.3, 1.0, 3.0))
        key = f"client-{rng.randrange(50)}"
        assert forgetful.hit(key) == reference.hit(key)
    assert len(forgetful) <= len(reference) == 50


def test_a_leaky_bucket_keeps_only_the_clients_not_yet_drained() -> None:
    clock = Clock()
    bucket = LeakyBucketThrottle([Rate(20, 1.0)], burst=4, clock=clock)
    for i in range(6000):
        clock.now += 0.001
        bucket.hit(f"127.0.{i // 250}.{i % 250}")
    assert len(bucket) <= 51  # those seen within the 50 ms a bucket of one takes to drain
    clock.now += 1.0
    bucket.hit("late")
    assert len(bucket) == 1
