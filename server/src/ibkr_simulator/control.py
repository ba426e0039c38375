"""A line-based TCP control port for fault injection from outside the process (e.g. `nc`).

Each request is one line of words; each answer is one line starting with `ok` or `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import Awaitable, Callable

from ibkr_simulator.clock import parse_instant
from ibkr_simulator.simulator import Simulator
from ibkr_simulator.tasks import TaskOwner
from ibkr_simulator.trading_calendar import US_EQUITIES

logger = logging.getLogger(__name__)

# Longest accepted command line; anything longer is a client error, not a command.
MAXIMUM_LINE_BYTES = 4096

CONTROL_HELP = """\
Control commands (one per line; answers start with "ok" or "error"):
  status                          listening state, client ids, open orders, lines, subscriptions
  quote SYMBOL                    current bid, ask and last
  set-price SYMBOL PRICE          move the midpoint and last trade to PRICE (orders match at once)
  jump-price SYMBOL PERCENT       gap the price by PERCENT (e.g. -5)
  freeze SYMBOL | unfreeze SYMBOL stop or resume an instrument's price process
  step [COUNT]                    advance every price process COUNT steps (default 1)
  drop-connections                close every API connection
  refuse-connections SECONDS [reset-order-ids]
                                  gateway restart: drop everyone, refuse connections for
                                  SECONDS; reset-order-ids makes nextValidId start at 1 again
  connectivity-lost               send error 1100; prices move and orders fill at IB, but no
                                  market data flows and order reports wait for the restore
  connectivity-restored [data-lost]  send 1102 (or 1101 and drop market-data subscriptions),
                                  then the order reports held during the outage
  competing-session start|stop    another session of the user takes the market data: lines
                                  stop ticking and new requests get error 10197
  send-error CODE TEXT...         send any error/notice with request id -1 to every client
  delay-responses SECONDS [ID...] answer each request (or only requests with these message
                                  ids, e.g. 3 for placeOrder) SECONDS after it arrives (0: off)
  reject-next-order [REASON...]   reject the next new order with error 201
  expire-day-orders               run the close now: cancel working DAY orders
  time                            the simulated time, its speed and the US market's phase
  set-time ISO                    jump the simulated clock (e.g. 2026-03-03T16:00:00-05:00);
                                  DAY/GTD orders past their end expire, held orders open
  advance SECONDS                 move the simulated clock forward SECONDS, likewise
  clock-speed N                   simulated seconds per real second (0 stops the clock)
  liquidity [displayed|unlimited [LEVELS [SIZE]]]
                                  show or set the liquidity model: displayed sizes at LEVELS
                                  prices per side (SIZE beyond the touch), or any size at once
  help                            this text"""

Command = Callable[[Simulator, list[str]], Awaitable[str]]


class ControlError(Exception):
    """A command that cannot be carried out; its text goes back after 'error'."""


def _words(arguments: list[str], count: int, usage: str) -> list[str]:
    if len(arguments) < count:
        raise ControlError(f"usage: {usage}")
    return arguments


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ControlError(f"not a number: {text!r}") from None


async def _status(simulator: Simulator, _: list[str]) -> str:
    status = simulator.status()
    clients = ",".join(str(client) for client in status.client_ids) or "-"
    return (
        f"listening={int(status.listening)} port={status.port} clients={clients} "
        f"connected_to_ib={int(status.connected_to_ib)} "
        f"competing_session={int(status.competing_session)} "
        f"held_order_reports={status.held_order_reports} open_orders={status.open_orders} "
        f"market_data_lines={status.market_data_lines} pnl_subscriptions={status.pnl_subscriptions} "
        f"market_depth={status.market_depth_subscriptions} "
        f"tick_by_tick={status.tick_by_tick_subscriptions} "
        f"real_time_bars={status.real_time_bar_subscriptions} "
        f"live_bars={status.live_bar_subscriptions}"
    )


async def _quote(simulator: Simulator, arguments: list[str]) -> str:
    (symbol, *_) = _words(arguments, 1, "quote SYMBOL")
    quote = simulator.quote(symbol)
    return f"bid={quote.bid} ask={quote.ask} last={quote.last} volume={quote.volume:g}"


async def _set_price(simulator: Simulator, arguments: list[str]) -> str:
    symbol, price, *_ = _words(arguments, 2, "set-price SYMBOL PRICE")
    quote = simulator.set_price(symbol, _number(price))
    return f"bid={quote.bid} ask={quote.ask} last={quote.last}"


async def _jump_price(simulator: Simulator, arguments: list[str]) -> str:
    symbol, percent, *_ = _words(arguments, 2, "jump-price SYMBOL PERCENT")
    quote = simulator.jump_price(symbol, _number(percent))
    return f"bid={quote.bid} ask={quote.ask} last={quote.last}"


async def _freeze(simulator: Simulator, arguments: list[str]) -> str:
    simulator.freeze_price(_words(arguments, 1, "freeze SYMBOL")[0])
    return "frozen"


async def _unfreeze(simulator: Simulator, arguments: list[str]) -> str:
    simulator.unfreeze_price(_words(arguments, 1, "unfreeze SYMBOL")[0])
    return "unfrozen"


async def _step(simulator: Simulator, arguments: list[str]) -> str:
    count = int(_number(arguments[0])) if arguments else 1
    await simulator.step(count)
    return f"stepped {count}"


async def _drop(simulator: Simulator, _: list[str]) -> str:
    await simulator.drop_connections()
    return "dropped"


async def _refuse(simulator: Simulator, arguments: list[str]) -> str:
    seconds = _number(_words(arguments, 1, "refuse-connections SECONDS [reset-order-ids]")[0])
    reset = arguments[1:2] == ["reset-order-ids"]
    await simulator.refuse_connections(seconds, reset_order_ids=reset)
    return f"refusing connections for {seconds:g} s"


async def _lost(simulator: Simulator, _: list[str]) -> str:
    simulator.connectivity_lost()
    return "sent 1100"


async def _restored(simulator: Simulator, arguments: list[str]) -> str:
    data_lost = bool(arguments) and arguments[0] == "data-lost"
    simulator.connectivity_restored(data_lost=data_lost)
    return "sent 1101" if data_lost else "sent 1102"


async def _competing(simulator: Simulator, arguments: list[str]) -> str:
    (action, *_) = _words(arguments, 1, "competing-session start|stop")
    if action == "start":
        simulator.start_competing_session()
        return "competing session started: market data requests get 10197"
    if action == "stop":
        simulator.end_competing_session()
        return "competing session ended"
    raise ControlError("usage: competing-session start|stop")


async def _send_error(simulator: Simulator, arguments: list[str]) -> str:
    code, *text = _words(arguments, 2, "send-error CODE TEXT...")
    simulator.send_error(int(_number(code)), " ".join(text))
    return f"sent {code}"


async def _delay(simulator: Simulator, arguments: list[str]) -> str:
    seconds_text, *ids = _words(arguments, 1, "delay-responses SECONDS [MESSAGE_ID...]")
    seconds = _number(seconds_text)
    message_ids = frozenset(int(_number(text)) for text in ids)
    simulator.delay_responses(seconds, message_ids)
    which = f" to messages {', '.join(sorted(map(str, message_ids)))}" if message_ids else ""
    return f"delaying responses{which} by {seconds:g} s"


async def _reject(simulator: Simulator, arguments: list[str]) -> str:
    reason = " ".join(arguments) or "Simulated rejection"
    simulator.reject_next_order(reason)
    return "next order will be rejected"


async def _expire(simulator: Simulator, _: list[str]) -> str:
    simulator.expire_day_orders()
    return "day orders expired"


async def _liquidity(simulator: Simulator, arguments: list[str]) -> str:
    if arguments:
        mode, *rest = arguments
        levels = int(_number(rest[0])) if rest else None
        size = _number(rest[1]) if len(rest) > 1 else None
        simulator.set_liquidity(mode, levels=levels, level_size=size)
    policy = simulator.gateway.orders.fill_policy
    size_text = "touch" if policy.level_size is None else f"{policy.level_size:g}"
    return (
        f"liquidity={policy.liquidity} levels={policy.book_levels} level_size={size_text} "
        f"spacing_ticks={policy.level_spacing_ticks}"
    )


def _describe_time(simulator: Simulator) -> str:
    now = simulator.now()
    phase = US_EQUITIES.phase(now).value
    return f"time={now.isoformat()} speed={simulator.clock.speed:g} us_equities={phase}"


async def _time(simulator: Simulator, _: list[str]) -> str:
    return _describe_time(simulator)


async def _set_time(simulator: Simulator, arguments: list[str]) -> str:
    simulator.set_time(parse_instant(_words(arguments, 1, "set-time ISO")[0]))
    return _describe_time(simulator)


async def _advance(simulator: Simulator, arguments: list[str]) -> str:
    simulator.advance(_number(_words(arguments, 1, "advance SECONDS")[0]))
    return _describe_time(simulator)


async def _clock_speed(simulator: Simulator, arguments: list[str]) -> str:
    simulator.set_clock_speed(_number(_words(arguments, 1, "clock-speed N")[0]))
    return _describe_time(simulator)


async def _help(_simulator: Simulator, _: list[str]) -> str:
    return CONTROL_HELP.replace("\n", " | ")


COMMANDS: dict[str, Command] = {
    "status": _status,
    "quote": _quote,
    "set-price": _set_price,
    "jump-price": _jump_price,
    "freeze": _freeze,
    "unfreeze": _unfreeze,
    "step": _step,
    "drop-connections": _drop,
    "refuse-connections": _refuse,
    "connectivity-lost": _lost,
    "connectivity-restored": _restored,
    "competing-session": _competing,
    "send-error": _send_error,
    "delay-responses": _delay,
    "reject-next-order": _reject,
    "expire-day-orders": _expire,
    "time": _time,
    "set-time": _set_time,
    "advance": _advance,
    "clock-speed": _clock_speed,
    "liquidity": _liquidity,
    "help": _help,
}


async def execute(simulator: Simulator, line: str) -> str:
    """Run one command line and return the answer line (without the newline)."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        return f"error {error}"
    if not words:
        return "error empty command"
    command = COMMANDS.get(words[0].lower())
    if command is None:
        return f"error unknown command {words[0]!r} (try help)"
    try:
        return "ok " + await command(simulator, words[1:])
    except (ControlError, KeyError, ValueError) as error:
        return f"error {error}"


class ControlServer:
    """Serves the control commands on a TCP port of its own; start and stop are idempotent."""

    def __init__(self, simulator: Simulator, host: str, port: int) -> None:
        self._simulator = simulator
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections = TaskOwner("control")

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, self._host, self._port, limit=MAXIMUM_LINE_BYTES
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await self._connections.close()
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.start(self._serve(reader, writer), "connection")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = await execute(self._simulator, line.decode(errors="replace").strip())
                writer.write(answer.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            logger.debug("control connection ended")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
