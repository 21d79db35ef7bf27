"""The `proxy` dialect's nginx limit_req: exact on an injected clock, then over real sockets."""

from __future__ import annotations

import time

import pytest
import urllib3

from catfacts.emulator.app import NGINX_429_PAGE
from catfacts.emulator.limit_req import LeakyBucketThrottle, milli_rate
from catfacts.emulator.process import EmulatorProcess
from catfacts.rates import Rate
from tests.support import Api


class FakeClock:
    """A clock that moves only when told to, set in whole milliseconds."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> float:
        return self.ms / 1000


def make_bucket(
    rates: list[Rate], clock: FakeClock, *, burst: int = 0, start_ms: int = 1_000_000
) -> LeakyBucketThrottle:
    """A bucket on `clock`, started far from 0 so the arithmetic is not helped by small times."""
    clock.ms = start_ms
    return LeakyBucketThrottle(rates, burst=burst, clock=clock)


def spaced(bucket: LeakyBucketThrottle, clock: FakeClock, count: int, every_ms: int) -> list[bool]:
    """Whether each of `count` requests, `every_ms` apart, passes."""
    passed = []
    for _ in range(count):
        passed.append(bucket.hit("a"))
        clock.ms += every_ms
    return passed


TWENTY_A_SECOND = [Rate(20, 1.0)]


# --- The algorithm, on an injected clock -----------------------------------------------------


def test_at_the_rate_exactly_every_request_passes() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock)
    assert spaced(bucket, clock, 100, every_ms=50) == [True] * 100


def test_a_millisecond_too_soon_every_second_request_is_refused() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock)
    assert spaced(bucket, clock, 100, every_ms=49) == [True, False] * 50


def test_a_burst_lets_that_many_more_through_at_once() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock, burst=5)
    assert [bucket.hit("a") for _ in range(7)] == [True] * 6 + [False]


def test_a_full_burst_drains_at_the_rate() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock, burst=5)
    assert all(bucket.hit("a") for _ in range(6))  # excess 5000: the bucket is full
    clock.ms += 49  # 980 leaked: 5000 - 980 + 1000 = 5020 > 5000
    assert not bucket.hit("a")
    clock.ms += 1  # 1000 leaked since the last accepted request: 5000 again
    assert bucket.hit("a")
    assert not bucket.hit("a")
    clock.ms += 250  # five leaked
    assert [bucket.hit("a") for _ in range(6)] == [True] * 5 + [False]


def test_a_refused_request_leaves_the_bucket_as_it_was() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock)
    assert bucket.hit("a")
    for _ in range(49):  # refused every millisecond: none of them moves `last` or the excess
        clock.ms += 1
        assert not bucket.hit("a")
    clock.ms += 1  # 50 ms after the last accepted one
    assert bucket.hit("a")


def test_the_leak_is_truncated_to_whole_thousandths_as_nginx_computes_it() -> None:
    clock = FakeClock()
    bucket = make_bucket([Rate(100, 60.0)], clock)  # 100 r/m: 1666 thousandths a second
    assert bucket.hit("a")
    clock.ms += 600  # 1666 * 600 // 1000 = 999 leaked: 1 too few, where 100/60 r/s leaks 1000
    assert not bucket.hit("a")
    clock.ms += 1  # 1666 * 601 // 1000 = 1001
    assert bucket.hit("a")


def test_a_clock_in_seconds_is_cut_to_whole_milliseconds_as_nginx_clock() -> None:
    times = iter([10.0, 10.0499, 10.05])
    bucket = LeakyBucketThrottle(TWENTY_A_SECOND, clock=lambda: next(times))
    assert bucket.hit("a")
    assert not bucket.hit("a")  # 49.9 ms is 49 whole ms
    assert bucket.hit("a")  # 50 ms, though 10.05 - 10.0 is 49.99999... ms in binary


@pytest.mark.parametrize(
    ("rate", "thousandths"),
    [
        (Rate(20, 1.0), 20_000),
        (Rate(100, 60.0), 1_666),  # nginx's 100r/m: 100 * 1000 / 60
        (Rate(30, 2.0), 15_000),
        (Rate(1000, 3600.0), 277),
        (Rate(1, 86400.0), 1),  # never 0: a bucket that never leaks would never let go
    ],
)
def test_rates_are_read_in_thousandths_a_second(rate: Rate, thousandths: int) -> None:
    assert milli_rate(rate) == thousandths


def test_each_client_has_its_own_bucket() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock)
    assert bucket.hit("a")
    assert bucket.hit("b")
    assert not bucket.hit("a")
    assert not bucket.hit("b")


def test_with_several_rates_every_bucket_must_accept() -> None:
    clock = FakeClock()
    bucket = make_bucket([Rate(20, 1.0), Rate(60, 60.0)], clock)  # 20 r/s and 1 r/s
    assert bucket.hit("a")
    clock.ms += 50  # enough for the 20 r/s bucket, not for the 1 r/s one
    assert not bucket.hit("a")
    clock.ms += 949
    assert not bucket.hit("a")
    clock.ms += 1  # 1000 ms after the first
    assert bucket.hit("a")


def test_reset_empties_every_bucket() -> None:
    clock = FakeClock()
    bucket = make_bucket(TWENTY_A_SECOND, clock)
    assert bucket.hit("a")
    bucket.reset()
    assert bucket.hit("a")


# --- Over sockets ----------------------------------------------------------------------------


RATE_HEADERS = ("x-ratelimit", "ratelimit", "retry-after")


def rate_limit_headers(response: urllib3.BaseHTTPResponse) -> list[str]:
    """The names of the rate-limit headers of `response`, of any dialect."""
    return [name for name in response.headers if name.lower().startswith(RATE_HEADERS)]


def test_the_proxy_refuses_past_the_burst_with_its_page_and_no_header(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(dialect="proxy", rate_limit="1/second", burst=2)
    responses = [api.get("/fact", request_id="p") for _ in range(5)]
    assert [response.status for response in responses] == [200, 200, 200, 429, 429]
    refused = responses[-1]
    assert refused.data.decode() == NGINX_429_PAGE
    assert refused.headers["Content-Type"] == "text/html"
    assert all(rate_limit_headers(response) == [] for response in responses)
    assert [status for _, status in emulator.control.arrivals()] == [200, 200, 200, 429, 429]
    assert emulator.control.stats()["by_request_id"] == {"p": {"200": 3, "429": 2}}


def test_the_proxy_lets_a_request_through_once_the_bucket_has_leaked(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(dialect="proxy", rate_limit="10/second")
    assert api.get("/fact").status == 200
    assert api.get("/fact").status == 429  # well within 100 ms of the first
    time.sleep(0.11)
    assert api.get("/fact").status == 200


def test_a_new_burst_starts_every_client_afresh(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(dialect="proxy", rate_limit="1/minute")
    assert api.get("/fact").status == 200
    assert api.get("/fact").status == 429
    emulator.control.configure(burst=1)
    assert [api.get("/fact").status for _ in range(3)] == [200, 200, 429]


def test_the_burst_is_set_from_the_command_line() -> None:
    args = ["--dialect", "proxy", "--burst", "3"]
    with EmulatorProcess.start(rate_limit="1/minute", extra_args=args) as process:
        assert process.control.config()["burst"] == 3
        api = Api(process.url)
        try:
            assert [api.get("/fact").status for _ in range(5)] == [200] * 4 + [429]
        finally:
            api.close()
