"""A faithful emulator of the Cat Facts API (catfact.ninja), so the service can be tested offline.

It reproduces the real API's answers and its Laravel rate limiter, and adds what the real one
cannot: scripted faults and latency, and an admin API that reports what reached it. Run it with
`python -m catfacts.emulator`, or from Python with `catfacts.emulator.process.EmulatorProcess`.
"""

from catfacts.emulator.app import create_emulator_app
from catfacts.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_emulator_app"]
