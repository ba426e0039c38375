"""`ibkr-grpc serve`: run the gRPC server until SIGTERM or SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

import structlog

from ibkr_grpc.app import Application, DatabaseNotMigratedError
from ibkr_grpc.logging_setup import configure_logging
from ibkr_grpc.settings import Settings, SettingsError, load_settings


def run(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc serve",
        description="Serve the ibkr.v1 API in front of IB Gateway. Settings come from the "
        "environment (see README.md); the options below override them.",
    )
    parser.add_argument("--grpc-listen", help="host:port to listen on (GRPC_LISTEN)")
    parser.add_argument("--ib-host", help="IB Gateway host (IB_HOST)")
    parser.add_argument("--ib-port", type=int, help="IB Gateway API port (IB_PORT)")
    parser.add_argument("--ib-client-id", type=int, help="API client id (IB_CLIENT_ID)")
    options = parser.parse_args(list(arguments))
    overrides = {key: value for key, value in vars(options).items() if value is not None}
    try:
        settings = load_settings(**overrides)
    except SettingsError as error:
        parser.exit(2, f"ibkr-grpc serve: invalid settings:\n{error}\n")
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except DatabaseNotMigratedError as error:
        structlog.get_logger("ibkr_grpc").error("cannot start", reason=str(error))
        return 1
    return 0


async def serve(settings: Settings) -> None:
    application = Application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        await application.start()
        await stop.wait()
    finally:
        await application.stop()
