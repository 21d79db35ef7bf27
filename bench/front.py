"""Slow clients against the deployment: gunicorn alone, and the shipped nginx in front of it.

One gunicorn worker as `gunicorn.conf.py` sets it (CATFACTS_MAX_CALLS + 16 = 272 threads, 1000
connections); connections that trickle their headers (`bench.slow_clients`), then `/hello/`
probed every half second while they trickle. The goal: every probe within 1 s behind nginx.
"""

from __future__ import annotations

import time

from bench.harness import Service, emulator, median, print_table, service
from bench.nginx import NginxFront, nginx_binary
from bench.slow_clients import Trickle, probe_series

PROBES, EVERY, TIMEOUT = 20, 0.5, 2.0  # 10 s of attack, within nginx's 10 s header timeout
GOAL = 1.0


def main() -> None:
    binary = nginx_binary()
    if binary is None:
        raise SystemExit("bench front: nginx is not installed (make nginx installs it)")
    rows = []
    with emulator("20/second", 0.005) as upstream:
        env = {"CATFACTS_TRUSTED_PROXIES": "127.0.0.1"}
        with service(upstream, "20/second", env=env, connections=1000) as svc:
            front = NginxFront(binary, svc.url.removeprefix("http://"))
            try:
                for trickling in (0, 250, 400):
                    rows.append(attack("gunicorn alone", svc.url, svc, trickling))
                for trickling in (0, 400, 700):
                    rows.append(attack("nginx in front", front.url, svc, trickling))
            finally:
                front.stop()
    print_table(
        f"/hello/ while connections trickle their headers (one gunicorn worker, 272 threads; "
        f"{PROBES} probes every {EVERY} s, each given {TIMEOUT:g} s)",
        ["front", "trickling", "answered", f"within {GOAL:g} s", "p50 ms", "max ms", "held open"],
        rows,
    )


def attack(front: str, url: str, svc: Service, trickling: int) -> list[object]:
    host, port = url.removeprefix("http://").split(":")
    trickle = Trickle(host, int(port), trickling)
    try:
        probes = probe_series(f"{url}/hello/", PROBES, EVERY, TIMEOUT)
        held = trickle.open
    finally:
        trickle.stop()
    time.sleep(1)  # the threads the trickle held see their connections close
    answered = [probe for probe in probes if probe.status == 200]
    return [
        front,
        trickling,
        f"{len(answered)}/{PROBES}",
        f"{sum(probe.seconds <= GOAL for probe in answered)}/{PROBES}",
        milliseconds(median([probe.seconds for probe in answered]) if answered else None),
        milliseconds(max(probe.seconds for probe in answered) if answered else None),
        held,
    ]


def milliseconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"
