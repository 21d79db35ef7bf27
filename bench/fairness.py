"""Fair shares per client: one client holds many calls, another asks for one; what share it gets.

With one worker the turns go round the two clients. With two workers sharing Redis, the Redis
limiter says whose turn it is across both: a slot goes to the waiting client served least. The
last row caps connections per worker, as the test does, so that the single call always shares
a worker with part of the crowd. Clients are told apart by address: 127.0.0.2 holds the crowd,
127.0.0.3 the single call.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3

from bench.harness import Service, emulator, median, print_table, redis_server, service
from catfacts.strategies import LIMITED

LIMIT = 100  # per second
RATE = f"{LIMIT}/second"
CROWD, EACH, SINGLE = 8, 60, 150
RUNS = 3


def main() -> None:
    rows = []
    with redis_server("fairness") as url, emulator(RATE, 0.0) as upstream:
        # Room for every call on every worker (gunicorn, not a cap, spreads them), then at
        # most 5 a worker: the crowd on both, the single call next to 3 of its calls or more.
        for workers, connections in [(1, CROWD + 2), (2, CROWD + 2), (2, 5)]:
            env = {"CATFACTS_REDIS_URL": url}
            with service(upstream, RATE, workers, env=env, connections=connections) as svc:
                runs = [share(svc) for _ in range(RUNS)]
            rows.append(row(workers, connections, runs))
    print_table(
        f"Fair shares: {CROWD} calls of {EACH} from one client, {SINGLE} facts from another "
        f"(emulator and service at {RATE}; medians of {RUNS})",
        [
            "workers",
            "connections each",
            "single call's share",
            "single call s",
            "equal share s",
            "share per call s",
        ],
        rows,
    )


def row(workers: int, connections: int, runs: list[tuple[float, float]]) -> list[object]:
    shares, took = [run[0] for run in runs], [run[1] for run in runs]
    return [
        workers,
        connections,
        f"{median(shares):.2f}",
        f"{median(took):.2f}",
        f"{2 * SINGLE / LIMIT:.2f}",
        f"{(CROWD + 1) * SINGLE / LIMIT:.2f}",
    ]


def share(svc: Service) -> tuple[float, float]:
    """The single call's share of the requests sent while both clients competed, and its time."""
    svc.emulator.reset()
    crowd = urllib3.PoolManager(maxsize=CROWD, retries=False, timeout=120)
    crowd.connection_pool_kw["source_address"] = ("127.0.0.2", 0)
    single = urllib3.PoolManager(retries=False, timeout=120)
    single.connection_pool_kw["source_address"] = ("127.0.0.3", 0)

    def crowd_call(i: int) -> int:
        path = f"{svc.url}{LIMITED.path}/{EACH}"
        return crowd.request("GET", path, headers={"X-Request-ID": f"crowd-{i}"}).status

    with ThreadPoolExecutor(CROWD + 1) as threads:
        crowd_calls = threads.map(crowd_call, range(CROWD))
        while len(svc.emulator.stats()["by_request_id"]) < CROWD:
            time.sleep(0.01)
        started = time.monotonic()
        path = f"{svc.url}{LIMITED.path}/{SINGLE}"
        answer = threads.submit(single.request, "GET", path, headers={"X-Request-ID": "single"})
        stats = svc.emulator.stats()
        while "single" not in stats["by_request_id"]:
            stats = svc.emulator.stats()
        before = sent(stats, "crowd-"), sent(stats, "single")
        answer.result()
        took = time.monotonic() - started
        stats = svc.emulator.stats()
        list(crowd_calls)
    crowd_got, single_got = sent(stats, "crowd-") - before[0], SINGLE - before[1]
    return single_got / (crowd_got + single_got), took


def sent(stats: dict[str, Any], prefix: str) -> int:
    return sum(
        sum(statuses.values())
        for request_id, statuses in stats["by_request_id"].items()
        if request_id.startswith(prefix)
    )
