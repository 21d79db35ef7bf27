"""`python -m catfacts.emulator`: run the emulated Cat Facts API from the command line.

Every bad argument ends the program with one line on stderr and exit code 2, so a parent that
starts the emulator can show the reason as is.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from catfacts.emulator.app import create_emulator_app
from catfacts.emulator.config import EmulatorConfig, Fate, Redirect
from catfacts.emulator.dialects import Dialect
from catfacts.emulator.server import READY_PREFIX, StartupError, serve
from catfacts.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, without the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line; the behaviour options default to EmulatorConfig's defaults."""
    parser = _OneLineErrorParser(
        prog="python -m catfacts.emulator",
        description="Serve an emulation of the Cat Facts API (catfact.ninja): GET /fact and "
        "GET /facts behind Laravel's rate limiter, with optional latency and faults, and an "
        "admin API under /__emulator__ to reconfigure it and read what it saw.",
        epilog=f"Once listening, it writes one line on stdout: '{READY_PREFIX}http://HOST:PORT'.",
    )
    _add_serving_options(parser)
    _add_behaviour_options(parser)
    return parser


def _add_serving_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("serving")
    group.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    group.add_argument(
        "--port", type=int, default=8080, help="port to listen on, 0 for any free one (%(default)s)"
    )
    group.add_argument(
        "--log-level", choices=LOG_LEVELS, default="WARNING", help="DEBUG logs every request too"
    )
    group.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when stdin reaches its end, so the emulator ends with the parent that runs it",
    )


def _add_behaviour_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("behaviour", "also settable later: PUT /__emulator__/config")
    defaults = EmulatorConfig()
    group.add_argument(
        "--rate-limit",
        default=defaults.rate_limit,
        metavar="RATE",
        help="per client IP, in the notation of the limits package: '100/minute', "
        "'30 per 2 seconds', or several at once: '20/second;1000/hour' (%(default)s)",
    )
    group.add_argument(
        "--dialect",
        choices=list(Dialect),
        default=defaults.dialect,
        help="the rate-limit headers to speak (%(default)s, as catfact.ninja); 'proxy' puts "
        "nginx's limit_req in front instead, which sends none",
    )
    group.add_argument(
        "--burst",
        type=int,
        default=defaults.burst,
        metavar="N",
        help="requests beyond the rate that the proxy dialect's nginx lets through, as "
        "limit_req's burst=N nodelay (%(default)s)",
    )
    group.add_argument(
        "--redirect",
        choices=list(Redirect),
        default=defaults.redirect,
        help="redirect /fact to /v2/fact with a 307 (temporary) or a 308 (permanent); "
        "each hop is rate limited (no redirect)",
    )
    group.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="wait before each answer"
    )
    group.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="vary each wait by up to this much",
    )
    _add_fault_options(group, defaults)


def _add_fault_options(group: argparse._ArgumentGroup, defaults: EmulatorConfig) -> None:
    """The faults of the behaviour group: failures by share or by plan, and tagged facts."""
    for fault, answers in (
        ("error", "500s"),
        ("malformed", "200s whose body is not JSON"),
        ("missing-fact", "JSON without a 'fact'"),
        ("slow", "slow: they wait --slow-seconds more"),
        ("drop", "dropped: counted as 444, then the connection closes unanswered"),
    ):
        group.add_argument(
            f"--{fault}-rate",
            type=float,
            default=0.0,
            metavar="SHARE",
            help=f"share of /fact answers, from 0 to 1, that are {answers}",
        )
    group.add_argument(
        "--slow-seconds",
        type=float,
        default=defaults.slow_seconds,
        metavar="SECONDS",
        help="extra wait of slow answers (%(default)s)",
    )
    group.add_argument(
        "--plan",
        type=_fates,
        default=[],
        metavar="FATE,...",
        help=f"fates of the next /fact requests, before the rates apply: {', '.join(Fate)}",
    )
    group.add_argument("--seed", type=int, help="makes the rate-based faults repeatable")
    group.add_argument(
        "--tag-facts",
        action="store_true",
        help="end each fact with '[X-Request-ID #n]', to tell the callers' answers apart",
    )


def _fates(text: str) -> list[str]:
    """The comma-separated plan as a list; EmulatorConfig checks the fates themselves."""
    return [step.strip() for step in text.split(",") if step.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until it is stopped; 2 on bad arguments or when it cannot listen."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as error:
        parser.error(str(error))
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_emulator_app(config)
    try:
        asyncio.run(
            serve(
                app,
                host=args.host,
                port=args.port,
                exit_with_stdin=args.exit_with_stdin,
                access_log=args.log_level == "DEBUG",
            )
        )
    except StartupError as error:
        parser.error(str(error))
    return 0


def _config(args: argparse.Namespace) -> EmulatorConfig:
    """The settings from the command line, checked by the same rules as the admin API's."""
    names = [field.name for field in dataclasses.fields(EmulatorConfig)]
    return EmulatorConfig().updated({name: getattr(args, name) for name in names})


if __name__ == "__main__":
    sys.exit(main())
