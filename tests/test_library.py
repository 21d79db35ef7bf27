"""The README's library example runs as printed: exactly n facts, no 429, and no Flask loaded.

The snippet is read from README.md (the block after its marker) and run in a fresh interpreter,
so what a reader copies is what is tested, and nothing the test process imported can hide a
dependency on the web layer.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from catfacts.emulator.process import EmulatorProcess

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- the library example: tests/test_library.py runs exactly this snippet -->"
SERVING = ("flask", "werkzeug", "flask_limiter", "gunicorn", "catfacts.web", "catfacts.emulator")
# Run after the snippet, in its interpreter: which serving modules it loaded, if any.
LOADED = f"""
serving = {SERVING!r}
loaded = (m for m in sys.modules if m in serving or m.partition(".")[0] in serving)
print(sorted(loaded), file=sys.stderr)
"""
N = 30  # a window and a half at the emulator's 20/second: the limit must hold


def snippet() -> str:
    """The Python block that follows the marker in README.md, exactly as printed."""
    found = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```", README.read_text(), re.S)
    assert found is not None, f"README.md has no ```python block after {MARKER}"
    return found.group(1)


def run_snippet(*args: str) -> tuple[list[str], str]:
    """The facts the snippet printed, and the serving modules its interpreter had loaded."""
    done = subprocess.run(
        [sys.executable, "-c", snippet() + "\n" + LOADED, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines(), done.stderr.strip().splitlines()[-1]


def test_the_readme_snippet_fetches_exactly_n_without_a_429_or_flask(
    emulator: EmulatorProcess,
) -> None:
    facts, loaded = run_snippet(emulator.url, str(N), "20/second")

    assert len(facts) == N
    assert all(facts)
    assert emulator.control.stats()["statuses"] == {"200": N}
    assert loaded == "[]"


def test_the_readme_snippet_shares_its_budget_through_redis(
    emulator: EmulatorProcess, redis_url: str
) -> None:
    facts, loaded = run_snippet(emulator.url, str(N), "20/second", redis_url)

    assert len(facts) == N
    assert emulator.control.stats()["statuses"] == {"200": N}
    assert loaded == "[]"
