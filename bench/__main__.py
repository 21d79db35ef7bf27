"""Run every benchmark, or the ones named: `python -m bench strategies limited workers`."""

from __future__ import annotations

import importlib
import logging
import sys

SECTIONS = [
    "strategies",
    "limited",
    "eta",
    "workers",
    "hosts",
    "timelines",
    "page",
    "load",
    "dialects",
    "fairness",
    "rates",
    "soak",
    "cpu",
    "front",
]

logging.basicConfig(level=logging.WARNING)
for name in sys.argv[1:] or SECTIONS:
    importlib.import_module(f"bench.{name}").main()
