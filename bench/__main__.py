"""Run every benchmark, or the ones named: `python -m bench strategies limited workers`."""

from __future__ import annotations

import importlib
import logging
import sys

SECTIONS = [
    "strategies",
    "limited",
    "workers",
    "hosts",
    "timelines",
    "load",
    "dialects",
    "fairness",
    "rates",
    "soak",
    "cpu",
]

logging.basicConfig(level=logging.WARNING)
for name in sys.argv[1:] or SECTIONS:
    importlib.import_module(f"bench.{name}").main()
