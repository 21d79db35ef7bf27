"""The `catfacts` command: `catfacts serve` runs the service, `catfacts fetch N` asks one for facts.

The command line, all of it: `python -m catfacts`, `python WSGI.py`, `make run` and the installed
`catfacts` script all run `run()`. `catfacts` alone, or with serve's flags (`catfacts --port
5001`), serves, as `python -m catfacts` always has; serving itself is `serve/launcher.py`.

`fetch` streams the call, shows a progress bar (rich) while the facts come in, then prints the
facts on stdout and a one-line summary on stderr, so `catfacts fetch 10 > facts.txt` keeps just
the facts. A failure is one plain sentence and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from catfacts.service_client import ServiceError, stream_facts
from catfacts.strategies import LIMITED, STRATEGIES

FAILED = 1  # the service answered with an error, or the call failed midway
UNREACHABLE = 3  # no answer at all, or the connection broke (click uses 2 for a usage error)
INTERRUPTED = 130  # Ctrl-C, as shells report it
DEFAULT_URL = "http://127.0.0.1:5000"

# Flag -> environment variable; flags win because they are written into the environment.
_FLAGS = {
    "host": "CATFACTS_HOST",
    "port": "CATFACTS_PORT",
    "upstream_url": "CATFACTS_UPSTREAM_URL",
    "rate_limit": "CATFACTS_RATE_LIMIT",
    "upstream_timeout": "CATFACTS_UPSTREAM_TIMEOUT",
    "max_facts": "CATFACTS_MAX_FACTS",
    "log_level": "CATFACTS_LOG_LEVEL",
    "emulator_dialect": "CATFACTS_EMULATOR_DIALECT",
    "workers": "WEB_CONCURRENCY",
}


def _serve_flags(argv: list[str]) -> dict[str, str]:
    """serve's flags, as the environment variables they set (`catfacts serve --help`)."""
    parser = argparse.ArgumentParser(
        prog="catfacts",
        description="Serve catfacts. With no upstream URL, an embedded Cat Facts API starts too.",
    )
    parser.add_argument("--host", help="address to listen on (CATFACTS_HOST, 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (CATFACTS_PORT, 5000)")
    parser.add_argument("--upstream-url", help="the Cat Facts API (CATFACTS_UPSTREAM_URL)")
    parser.add_argument(
        "--rate-limit", help="upstream limit, or auto (CATFACTS_RATE_LIMIT, 100/minute)"
    )
    parser.add_argument("--upstream-timeout", help="seconds (CATFACTS_UPSTREAM_TIMEOUT, 5)")
    parser.add_argument("--max-facts", help="largest n accepted (CATFACTS_MAX_FACTS, 1000)")
    parser.add_argument("--log-level", help="DEBUG, INFO, ... (CATFACTS_LOG_LEVEL, INFO)")
    parser.add_argument("--workers", help="worker processes (WEB_CONCURRENCY, 1)")
    parser.add_argument(
        "--emulator-dialect",
        help="rate-limit headers of the embedded upstream: laravel, github, ietf, none or proxy "
        "(CATFACTS_EMULATOR_DIALECT, laravel)",
    )
    args = vars(parser.parse_args(argv))
    return {variable: args[name] for name, variable in _FLAGS.items() if args[name] is not None}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """catfacts: fetch n facts from a rate-limited API, three ways."""


@main.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Serve catfacts with gunicorn (`catfacts serve --help` for the flags)."""
    from catfacts.serve import launcher  # gunicorn and Flask: only to serve, never to fetch

    launcher.serve(_serve_flags(list(args)))


@main.command()
@click.argument("n", type=click.IntRange(min=0))
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default=LIMITED.name,
    show_default=True,
    help=" ".join(f"{name}: {info.description}." for name, info in STRATEGIES.items()),
)
@click.option(
    "--url",
    default=DEFAULT_URL,
    envvar="CATFACTS_URL",
    show_default=True,
    help="The catfacts service (CATFACTS_URL).",
)
def fetch(n: int, strategy: str, url: str) -> None:
    """Fetch N facts, with a progress bar while they stream in."""
    errors = Console(stderr=True, highlight=False)
    facts: dict[int, str] = {}
    summary: dict[str, Any] | None = None
    failure: ServiceError | None = None
    with _progress(errors) as progress:
        task = progress.add_task(f"{n} facts, {STRATEGIES[strategy].label.lower()}", total=n)
        try:
            for line in stream_facts(url, strategy, n):
                progress.update(task, **heard(line, time.monotonic()))
                if "fact" in line:
                    facts[line["index"]] = line["fact"]
                    progress.update(task, completed=len(facts))
                elif "summary" in line:
                    summary = line["summary"]
        except ServiceError as error:
            failure = error
        except KeyboardInterrupt:
            progress.stop()
            errors.print("catfacts: interrupted; the service drops the requests still queued")
            sys.exit(INTERRUPTED)
    for index in sorted(facts):
        click.echo(facts[index])
    if failure is not None:
        line = failure.line or {}
        if line.get("summary"):
            errors.print(summary_line(line["summary"]), soft_wrap=True)
        errors.print(f"catfacts: {failure.message}", soft_wrap=True, markup=False)
        sys.exit(FAILED if failure.reached else UNREACHABLE)
    if summary is not None:
        errors.print(summary_line(summary), soft_wrap=True)


def summary_line(summary: dict[str, Any]) -> str:
    """`30 of 30 facts in 2.22 s; ideal 1.08 s (+105%); 429s: 1; limited, worker 4242`."""
    total, ideal = summary["total_ms"] / 1000, summary.get("ideal_ms")
    parts = [f"{summary['returned']} of {summary['requested']} facts in {total:.2f} s"]
    if ideal:
        parts.append(f"ideal {ideal / 1000:.2f} s ({(total * 1000 / ideal - 1) * 100:+.0f}%)")
    parts.append(f"429s: {summary['outcomes']['refused']}")
    parts.append(f"{summary['strategy'].replace('_', ' ')}, worker {summary['worker']}")
    return "; ".join(parts)


def heard(line: dict[str, Any], now: float) -> dict[str, Any]:
    """What a line says of the time left, as the bar's fields: the service's `eta` (counted down
    from `now` between lines) and the wait the call is in, if a progress line says so."""
    fields: dict[str, Any] = {}
    if "eta" in line:
        fields["eta"] = (float(line["eta"]), now)
    if "progress" in line:
        waiting = line["progress"].get("waiting")
        fields["waiting"] = None if waiting is None else (waiting, now)
    elif "fact" in line:
        fields["waiting"] = None  # facts come again: whatever it waited for is over
    return fields


class EtaColumn(ProgressColumn):
    """The service's estimate, counting down; while the call waits for the upstream's window or
    a pause, what it waits for and how long, rather than an estimate that seems frozen."""

    def render(self, task: Task) -> Text:
        now = time.monotonic()
        waiting = task.fields.get("waiting")
        if waiting is not None:
            said, at = waiting
            left = said["seconds"] - (now - at)
            if left >= 1:
                return Text(waiting_text(said["for"], left), style="yellow")
        eta = task.fields.get("eta")
        # Strategies that do not estimate: rich's guess from the pace so far.
        seconds = task.time_remaining if eta is None else max(eta[0] - (now - eta[1]), 0.0)
        shown = "-:--:--" if seconds is None else str(timedelta(seconds=round(seconds)))
        return Text(f"eta {shown}", style="progress.remaining")


def waiting_text(kind: str, seconds: float) -> str:
    """`waiting for the upstream's window, resets in 41 s`, and the like for a pause or a turn."""
    if kind == "window":
        return f"waiting for the upstream's window, resets in {seconds:.0f} s"
    if kind == "pause":
        return f"paused by the upstream (429), resumes in {seconds:.0f} s"
    return f"waiting for a turn, about {seconds:.0f} s"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        EtaColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # piped: no bar frames in a log
    )


def run(argv: list[str] | None = None) -> None:
    """The console script: `catfacts` alone, or with serve's flags first, serves as before."""
    args = sys.argv[1:] if argv is None else argv
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        args = ["serve", *args]
    main.main(args=args, prog_name="catfacts")
