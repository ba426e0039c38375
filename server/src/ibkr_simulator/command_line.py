"""`ibkr-grpc sim`: run the simulated IB Gateway until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence
from pathlib import Path

from ibkr_simulator.clock import parse_instant
from ibkr_simulator.config import FillPolicy, Limits, SimulatorConfig
from ibkr_simulator.control import CONTROL_HELP, ControlServer
from ibkr_simulator.liquidity import DISPLAYED, LIQUIDITY_MODES, configured
from ibkr_simulator.simulator import Simulator

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc sim",
        description=(
            "A simulated IB Gateway speaking the TWS API wire protocol (server version 178), "
            "so that unmodified ib_async clients connect to it as to a paper-trading gateway."
        ),
        epilog=CONTROL_HELP
        + "\n\nExample: printf 'set-price AAPL 150\\n' | nc 127.0.0.1 CONTROL_PORT",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4002, help="API port (default 4002, paper)")
    parser.add_argument("--seed", type=int, default=1, help="price process seed (default 1)")
    parser.add_argument(
        "--accounts",
        default="DU1234567",
        help="comma-separated managed accounts (default DU1234567)",
    )
    parser.add_argument(
        "--tick-rate",
        type=float,
        default=4.0,
        help="price steps per second; 0 stops the clock (steps via the control port)",
    )
    parser.add_argument(
        "--start-time",
        type=parse_instant,
        default=None,
        metavar="ISO",
        help=(
            "simulated time to start at, with its offset (e.g. 2026-03-03T10:00:00-05:00); "
            "default: the wall clock, as at IB"
        ),
    )
    parser.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        metavar="N",
        help="simulated seconds per real second (default 1; 0 stops the clock)",
    )
    parser.add_argument(
        "--starting-cash", type=float, default=1_000_000.0, help="cash per account in USD"
    )
    parser.add_argument(
        "--partial-fill-quantity",
        type=float,
        default=None,
        help="fill at most this quantity per order per price step (default: what the book shows)",
    )
    parser.add_argument(
        "--liquidity",
        choices=LIQUIDITY_MODES,
        default=DISPLAYED,
        help=(
            "displayed (default): orders take the sizes the book shows, walking deeper levels "
            "at worse prices in several executions; unlimited: any size fills at the touch at once"
        ),
    )
    parser.add_argument(
        "--book-levels",
        type=int,
        default=5,
        help="price levels per side of the simulated book, the touch included (default 5)",
    )
    parser.add_argument(
        "--level-size",
        type=float,
        default=None,
        help="size shown at each level beyond the touch (default: the touch's displayed size)",
    )
    parser.add_argument(
        "--level-spacing-ticks",
        type=int,
        default=1,
        help="ticks between levels of the simulated book (default 1)",
    )
    parser.add_argument(
        "--contracts",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="extra contract JSON file extending the bundled universe (repeatable)",
    )
    parser.add_argument(
        "--messages-per-second", type=int, default=50, help="client message rate limit (error 100)"
    )
    parser.add_argument(
        "--market-data-lines",
        type=int,
        default=100,
        help="concurrent market-data lines (error 101)",
    )
    parser.add_argument(
        "--no-market-data-permissions",
        action="store_true",
        help="serve only delayed data (live requests get error 354)",
    )
    parser.add_argument(
        "--master-client-id",
        type=int,
        default=None,
        help=(
            "the client id that also receives every other client's order events and "
            "executions (TWS's Master API client ID)"
        ),
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="serve the line-based control interface on 127.0.0.1:PORT (0: any free port)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


def config_from_arguments(arguments: argparse.Namespace) -> SimulatorConfig:
    accounts = tuple(name.strip() for name in arguments.accounts.split(",") if name.strip())
    if not accounts:
        raise SystemExit("--accounts needs at least one account")
    if arguments.clock_speed < 0:
        raise SystemExit("--clock-speed cannot be negative")
    return SimulatorConfig(
        host=arguments.host,
        port=arguments.port,
        seed=arguments.seed,
        accounts=accounts,
        tick_rate=arguments.tick_rate,
        start_time=arguments.start_time,
        clock_speed=arguments.clock_speed,
        starting_cash=arguments.starting_cash,
        market_data_subscribed=not arguments.no_market_data_permissions,
        contract_files=tuple(arguments.contracts),
        control_port=arguments.control_port,
        master_client_id=arguments.master_client_id,
        limits=Limits(
            messages_per_second=arguments.messages_per_second,
            market_data_lines=arguments.market_data_lines,
        ),
        fills=_fill_policy(arguments),
    )


def _fill_policy(arguments: argparse.Namespace) -> FillPolicy:
    try:
        return configured(
            FillPolicy(partial_fill_quantity=arguments.partial_fill_quantity),
            arguments.liquidity,
            levels=arguments.book_levels,
            level_size=arguments.level_size,
            spacing_ticks=arguments.level_spacing_ticks,
        )
    except ValueError as error:
        raise SystemExit(f"ibkr-grpc sim: {error}") from None


async def serve(config: SimulatorConfig) -> None:
    """Run the simulator (and its control port, if configured) until a stop signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    simulator = Simulator(config)
    control = (
        ControlServer(simulator, config.control_host, config.control_port)
        if config.control_port is not None
        else None
    )
    try:
        await simulator.start()
        if control is not None:
            await control.start()
            logger.info("control interface on %s:%s", config.control_host, control.port)
        print(  # noqa: T201  the one line a script waits for before connecting
            f"simulated IB Gateway ready on {config.host}:{simulator.port}"
            + (f" control {config.control_host}:{control.port}" if control else ""),
            flush=True,
        )
        await stop.wait()
    finally:
        if control is not None:
            await control.stop()
        await simulator.stop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signal_number)


def run(arguments: Sequence[str]) -> int:
    parsed = build_parser().parse_args(list(arguments))
    logging.basicConfig(
        level=parsed.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = config_from_arguments(parsed)
    try:
        asyncio.run(serve(config))
    except OSError as error:
        logger.error("cannot start the simulator: %s", error)  # noqa: TRY400  the cause is in the message
        return 1
    return 0
