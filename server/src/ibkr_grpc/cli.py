"""The `ibkr-grpc` command line: one entry point whose subcommands run the pieces of the project."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version

# A subcommand receives the arguments that follow its name and returns the process exit code.
Subcommand = Callable[[Sequence[str]], int]


def _run_simulator(arguments: Sequence[str]) -> int:
    # Imported here so that the service never depends on the simulator outside this wiring.
    from ibkr_simulator.command_line import run  # noqa: PLC0415

    return run(arguments)


def _serve(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.serve import run  # noqa: PLC0415  keeps `ibkr-grpc --help` fast

    return run(arguments)


def _database(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.database import run  # noqa: PLC0415

    return run(arguments)


def _backup(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.backup import run  # noqa: PLC0415

    return run(arguments)


def _archive(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.archive import run  # noqa: PLC0415

    return run(arguments)


def _demo(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.demo import run  # noqa: PLC0415

    return run(arguments)


def _probe_gateway(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.probes import run_gateway  # noqa: PLC0415

    return run_gateway(arguments)


def _probe_health(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.probes import run_health  # noqa: PLC0415

    return run_health(arguments)


def _token(arguments: Sequence[str]) -> int:
    from ibkr_grpc.commands.token import run  # noqa: PLC0415

    return run(arguments)


SUBCOMMANDS: dict[str, tuple[str, Subcommand]] = {
    "demo": ("run the credential-free demo: simulated gateway and server", _demo),
    "serve": ("serve the ibkr.v1 gRPC API in front of IB Gateway", _serve),
    "sim": ("run the simulated IB Gateway (TWS API wire protocol)", _run_simulator),
    "db": ("manage the database schema (upgrade, current)", _database),
    "backup": ("back up the PostgreSQL database, prune old backups, restore one", _backup),
    "archive": ("move old terminal orders, their fills and events to the archive tables", _archive),
    "token": ("mint a bearer token (JWT) for local use", _token),
    "probe-gateway": (
        "health check: exit 0 when IB Gateway answers the API handshake",
        _probe_gateway,
    ),
    "probe-health": ("health check: exit 0 when the server reports SERVING", _probe_health),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc",
        description="A typed, streaming gRPC gateway in front of Interactive Brokers' IB Gateway.",
    )
    parser.add_argument("--version", action="version", version=version("ibkr-grpc"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (summary, _) in SUBCOMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known, rest = parser.parse_known_args(arguments)
    _, handler = SUBCOMMANDS[known.command]
    return handler(rest)


if __name__ == "__main__":
    sys.exit(main())
