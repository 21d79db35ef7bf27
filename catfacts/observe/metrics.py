"""The service's Prometheus metrics, and the one place that knows their names.

`prometheus_client` decides at import whether it runs in multiprocess mode (one file per worker,
summed at scrape time), from `PROMETHEUS_MULTIPROC_DIR`. gunicorn's master sets that variable in
`on_starting`, before any worker imports this module's client; so nothing here imports
`prometheus_client` before the first metric is recorded, and the master (which only forks) never
holds a metric of its own. Callers use the small functions below, never the client directly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a loopback round trip to a long limited call.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _Metrics(NamedTuple):
    upstream_requests: Counter
    upstream_rate_limited: Counter
    retries: Counter
    slots_in_flight: Gauge
    slot_wait: Histogram
    calls_in_flight: Gauge
    queued_requests: Gauge
    request_duration: Histogram
    calls_refused: Counter


_lock = threading.Lock()
_created: list[_Metrics] = []


def _metrics() -> _Metrics:
    """Created once, on first use (`create_app`), in the worker, so multiprocess mode is chosen
    there; the lock keeps two threads' first uses from registering the metrics twice."""
    if _created:
        return _created[0]
    with _lock:
        if not _created:
            _created.append(_create())
        return _created[0]


def _create() -> _Metrics:
    from prometheus_client import Counter, Gauge, Histogram

    return _Metrics(
        Counter(
            "catfacts_upstream_requests",
            "Requests sent to the upstream, by strategy and answer (HTTP status, or error).",
            ["strategy", "status"],
        ),
        Counter(
            "catfacts_upstream_rate_limited",
            "429 answers received from the upstream, by strategy.",
            ["strategy"],
        ),
        Counter(
            "catfacts_upstream_retries",
            "Requests the limited strategy sent again, by reason (rate_limited, failed).",
            ["reason"],
        ),
        Gauge(
            "catfacts_slots_in_flight",
            "Limiter slots held by requests sent and not yet answered.",
            multiprocess_mode="livesum",
        ),
        Histogram(
            "catfacts_slot_wait_seconds",
            "Time the dispatcher waited for a limiter slot.",
            buckets=_WAIT_BUCKETS,
        ),
        Gauge(
            "catfacts_calls_in_flight",
            "Fact calls admitted and not yet answered.",
            multiprocess_mode="livesum",
        ),
        Gauge(
            "catfacts_queued_requests",
            "Upstream requests of limited calls waiting for their turn.",
            multiprocess_mode="livesum",
        ),
        Histogram(
            "catfacts_http_request_duration_seconds",
            "Time to answer a request to the service, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            buckets=_LATENCY_BUCKETS,
        ),
        Counter(
            "catfacts_calls_refused",
            "Calls refused before they spent anything, by reason.",
            ["reason"],
        ),
    )


def start() -> None:
    """Create the metrics now (from `create_app`), so a scrape lists them all from the start."""
    _metrics()


def upstream_answered(strategy: str, status: int | str) -> None:
    """One request reached its end: an HTTP status, or `timeout` / `unreachable`."""
    counters = _answers.get((strategy, status))
    if counters is None:
        counters = _answers[strategy, status] = _answer_counters(strategy, status)
    for counter in counters:
        counter.inc()


# The counters one (strategy, status) increments, found once: `labels()` validates, formats and
# looks up its labels under a lock, which every upstream request of a large call would pay. The
# children live as long as their metric, which lives as long as the process.
_answers: dict[tuple[str, int | str], tuple[Counter, ...]] = {}


def _answer_counters(strategy: str, status: int | str) -> tuple[Counter, ...]:
    metrics = _metrics()
    counters: tuple[Counter, ...] = (metrics.upstream_requests.labels(strategy, str(status)),)
    if status == 429:
        counters += (metrics.upstream_rate_limited.labels(strategy),)
    return counters


def retried(reason: str) -> None:
    _metrics().retries.labels(reason).inc()


def refused(reason: str) -> None:
    _metrics().calls_refused.labels(reason).inc()


def waited_for_slot(seconds: float) -> None:
    _metrics().slot_wait.observe(seconds)


def queued(requests: int) -> None:
    _metrics().queued_requests.set(requests)


def answered(endpoint: str, method: str, status: int, seconds: float) -> None:
    _metrics().request_duration.labels(endpoint, method, str(status)).observe(seconds)


@contextmanager
def slot_in_flight() -> Iterator[None]:
    with _metrics().slots_in_flight.track_inprogress():
        yield


@contextmanager
def call_in_flight() -> Iterator[None]:
    with _metrics().calls_in_flight.track_inprogress():
        yield


def exposition() -> bytes:
    """Every metric in Prometheus' text format; across all workers in multiprocess mode."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _metrics()  # a scrape before any call still lists every metric
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def worker_gone(pid: int) -> None:
    """gunicorn's master: a worker exited; its live gauges no longer count."""
    if os.environ.get(MULTIPROC_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


_degraded: list[Gauge] = []


def limiter_degraded(degraded: bool) -> None:
    """This worker runs on a local share of the limit (1) or spends the shared budget (0); summed
    over the live workers, it says how many are degraded."""
    if not _degraded:
        from prometheus_client import Gauge

        with _lock:
            if not _degraded:
                _degraded.append(
                    Gauge(
                        "catfacts_limiter_degraded",
                        "Workers running on a local share of the limit because Redis is away.",
                        multiprocess_mode="livesum",
                    )
                )
    _degraded[0].set(1 if degraded else 0)
