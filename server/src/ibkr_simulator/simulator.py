"""The simulated IB Gateway: a TCP server speaking the TWS API, with a typed fault-injection API.

async with Simulator(SimulatorConfig(port=0, tick_rate=0)) as simulator:
    ...  # connect ib_async to ("127.0.0.1", simulator.port)
    simulator.set_price("AAPL", 150.00)
    await simulator.step()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ibkr_simulator import liquidity
from ibkr_simulator.clock import Clock, SimulatedClock, format_ib_datetime
from ibkr_simulator.config import SimulatorConfig
from ibkr_simulator.contracts import ContractSpec, ContractUniverse
from ibkr_simulator.gateway import Gateway
from ibkr_simulator.listings import list_derivatives
from ibkr_simulator.prices import Quote, QuoteBoard
from ibkr_simulator.request_handlers import dispatch
from ibkr_simulator.session import Session
from ibkr_simulator.tasks import TaskOwner
from ibkr_simulator.trading_calendar import NEW_YORK

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatorStatus:
    """A snapshot for health checks and the control interface."""

    listening: bool
    port: int
    client_ids: tuple[int, ...]
    connected_to_ib: bool
    competing_session: bool
    held_order_reports: int
    open_orders: int
    market_data_lines: int
    pnl_subscriptions: int
    market_depth_subscriptions: int = 0
    tick_by_tick_subscriptions: int = 0
    real_time_bar_subscriptions: int = 0
    live_bar_subscriptions: int = 0


class Simulator:
    """Owns the listener, the sessions, the price clock and the faults; start and stop are idempotent."""

    def __init__(self, config: SimulatorConfig | None = None, clock: Clock | None = None) -> None:
        """`clock` replaces the wall clock as the source the simulated clock runs on."""
        self.config = config or SimulatorConfig()
        self.clock = (
            SimulatedClock(self.config.start_time, self.config.clock_speed)
            if clock is None
            else SimulatedClock(self.config.start_time, self.config.clock_speed, source=clock)
        )
        # Futures and options are listed as of the New York day the clock starts on.
        listing = functools.partial(
            list_derivatives, listing=self.clock().astimezone(NEW_YORK).date()
        )
        self.universe = ContractUniverse.load(
            self.config.contract_files, derivatives=listing, clock=self.clock
        )
        self.gateway = Gateway(self.config, self.universe, self.clock)
        self._server: asyncio.Server | None = None
        self._port = self.config.port
        self._sessions: dict[int, Session] = {}
        self._next_connection_id = 1
        self._tasks = TaskOwner("simulator")
        self._session_tasks = TaskOwner("sessions")
        self._reopen_task: asyncio.Task[None] | None = None
        self._response_delay = 0.0
        # The request message ids the delay applies to; empty: every request.
        self._delayed_messages: frozenset[int] = frozenset()
        self._started = False
        self._lock = asyncio.Lock()

    # Lifecycle -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        """The API port (the real one when the config asked for port 0)."""
        return self._port

    @property
    def is_listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            await self._listen()
            if self.config.tick_rate > 0:
                self._tasks.start(self._clock_loop(), "price-clock")
            self._started = True
            logger.info("simulated IB Gateway listening on %s:%s", self.host, self._port)

    async def stop(self) -> None:
        """Stop accepting, close every session, stop the clock; safe to call twice."""
        async with self._lock:
            if not self._started:
                return
            self._started = False
            # The clock and a pending reopen go first, so nothing starts listening again.
            await self._tasks.close()
            await self._close_listener()
            await self.drop_connections()
            await self._session_tasks.close()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.config.host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection_id = self._next_connection_id
        self._next_connection_id += 1
        session = Session(
            _Host(self.gateway, self.clock, self._response_delay_seconds),
            reader,
            writer,
            connection_id,
            self.config.limits,
            self.config.outgoing_queue_size,
        )
        self._sessions[connection_id] = session
        task = self._session_tasks.start(session.run(), f"connection-{connection_id}")
        task.add_done_callback(lambda _: self._sessions.pop(connection_id, None))

    async def _clock_loop(self) -> None:
        interval = 1.0 / self.config.tick_rate
        loop = asyncio.get_running_loop()
        next_push = loop.time() + self.config.account_update_interval
        next_pnl = loop.time() + self.config.pnl_update_interval
        service = self.gateway.account_service
        while True:
            await asyncio.sleep(interval)
            self.gateway.step()
            # Account values and PnL come from IB's servers: none while they are unreachable.
            pushing = self.gateway.connected_to_ib
            if loop.time() >= next_push:
                next_push = loop.time() + self.config.account_update_interval
                if pushing:
                    service.push_account_values()
            if loop.time() >= next_pnl:
                next_pnl = loop.time() + self.config.pnl_update_interval
                if pushing:
                    service.push_pnl()

    # Market control ------------------------------------------------------------------------

    def contract(self, symbol: str) -> ContractSpec:
        found = self.universe.by_symbol(symbol)
        if found is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return found

    def quote(self, symbol: str) -> Quote:
        return self.gateway.prices.quote(self.contract(symbol).con_id)

    async def step(self, count: int = 1) -> None:
        """Advance the price process `count` steps, exactly as the clock would."""
        for _ in range(count):
            self.gateway.step()
        self.gateway.push_accounts()
        await asyncio.sleep(0)

    def set_price(self, symbol: str, price: float) -> Quote:
        """Move an instrument's midpoint and last trade to `price`, then match orders against it."""
        contract = self.contract(symbol)
        quotes = self.gateway.prices.set_price(contract.con_id, price)
        self._publish(quotes)
        return quotes[contract.con_id]

    def jump_price(self, symbol: str, percent: float) -> Quote:
        """Gap the price by `percent` (e.g. -5.0 for a 5% drop)."""
        current = self.quote(symbol).midpoint
        return self.set_price(symbol, current * (1 + percent / 100))

    def freeze_price(self, symbol: str) -> None:
        self.gateway.prices.process(self.contract(symbol).con_id).frozen = True

    def unfreeze_price(self, symbol: str) -> None:
        self.gateway.prices.process(self.contract(symbol).con_id).frozen = False

    def _publish(self, quotes: QuoteBoard) -> None:
        self.gateway.publish(quotes)
        # Marks changed: portfolio, account values and PnL follow at once, even with the clock stopped.
        self.gateway.push_accounts()

    # Faults --------------------------------------------------------------------------------

    async def drop_connections(self) -> None:
        """Close every API connection at once, as when the gateway process dies."""
        sessions = list(self._sessions.values())
        for session in sessions:
            session.abort()
        if sessions:
            await asyncio.gather(*(session.close() for session in sessions))

    async def refuse_connections(self, seconds: float, *, reset_order_ids: bool = False) -> None:
        """A gateway restart: drop everyone and refuse connections for `seconds`, then listen again.

        Orders, positions and permIds survive, as they do at IB. With `reset_order_ids`,
        nextValidId starts again at 1 (as after a real restart) and ids of finished orders may
        be reused for new orders.
        """
        await self._close_listener()
        await self.drop_connections()
        if reset_order_ids:
            self.gateway.orders.forget_order_ids()
        if self._reopen_task is not None:
            self._reopen_task.cancel()
        self._reopen_task = self._tasks.start(self._reopen_after(seconds), "reopen")

    async def _reopen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._listen()
        logger.info("simulated gateway accepting connections again on port %s", self._port)

    def connectivity_lost(self) -> None:
        """Error 1100 to every client. The market goes on at IB: prices move and resting
        orders go on working and filling, but no market data reaches the clients and the
        order reports (openOrder, orderStatus, execDetails, commissionReport) wait until
        connectivity is restored. IB: "Existing orders (native types) will operate normally
        although execution reports and simulated orders will be delayed until the reset is
        complete" (https://interactivebrokers.github.io/tws-api/message_codes.html)."""
        self.gateway.lose_connectivity()

    def connectivity_restored(self, *, data_lost: bool = False) -> None:
        """Error 1102 (data maintained: market-data lines tick again), or 1101 (data lost:
        every market-data and bar subscription is dropped and must be requested again); then
        the order reports held during the outage, in the order they happened."""
        self.gateway.restore_connectivity(data_lost=data_lost)

    def start_competing_session(self) -> None:
        """Another session logs in with the same user: live market-data lines stop ticking
        and every new market-data request gets error 10197 under its own request id."""
        self.gateway.market_data.set_competing_session(active=True)

    def end_competing_session(self) -> None:
        """The competing session has logged out: held lines tick again, new requests work."""
        self.gateway.market_data.set_competing_session(active=False)

    def send_error(self, code: int, text: str) -> None:
        """Send any error or notice (request id -1) to every connected client."""
        self.gateway.broadcast_error(code, text)

    def delay_responses(self, seconds: float, message_ids: frozenset[int] = frozenset()) -> None:
        """Answer each request `seconds` after it arrives (in order); 0 turns the delay off.
        With `message_ids` (e.g. 3, placeOrder) only those requests are held; the requests
        after a held one still wait their turn, as on one TCP connection."""
        self._response_delay = max(0.0, seconds)
        self._delayed_messages = message_ids

    def reject_next_order(self, reason: str = "Simulated rejection") -> None:
        """The next new order (from any client) is rejected with error 201 and `reason`."""
        self.gateway.orders.reject_next_order(reason)

    def set_liquidity(
        self, mode: str, *, levels: int | None = None, level_size: float | None = None
    ) -> None:
        """Switch the liquidity model ("displayed" or "unlimited") for every later execution."""
        orders = self.gateway.orders
        orders.set_fill_policy(
            liquidity.configured(orders.fill_policy, mode, levels=levels, level_size=level_size)
        )

    def expire_day_orders(self) -> None:
        """Run the close now, whatever the clock says: working DAY orders are cancelled."""
        self.gateway.orders.expire_day_orders()

    # Time ----------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The simulated time."""
        return self.clock()

    def set_time(self, moment: dt.datetime) -> dt.datetime:
        """Jump the simulated clock to `moment`; what happens by the clock happens at once
        (DAY and GTD orders past their end are cancelled, held orders of an open market go to
        the exchange). Prices do not move with it."""
        self.clock.set_time(moment)
        self._after_time_change()
        return self.clock()

    def advance(self, seconds: float) -> dt.datetime:
        """Move the simulated clock forward by `seconds`, as `set_time` does."""
        moment = self.clock.advance(seconds)
        self._after_time_change()
        return moment

    def set_clock_speed(self, speed: float) -> None:
        """Simulated seconds per real second from now on (0 stops the clock)."""
        self.clock.set_speed(speed)

    def _after_time_change(self) -> None:
        self.gateway.on_clock()
        self.gateway.push_accounts()

    # Inspection ----------------------------------------------------------------------------

    def status(self) -> SimulatorStatus:
        return SimulatorStatus(
            listening=self.is_listening,
            port=self._port,
            client_ids=tuple(self.gateway.client_ids()),
            connected_to_ib=self.gateway.connected_to_ib,
            competing_session=self.gateway.market_data.competing_session,
            held_order_reports=self.gateway.held_order_events,
            open_orders=len(self.gateway.orders.open_orders(None)),
            market_data_lines=self.gateway.market_data.line_count,
            pnl_subscriptions=self.gateway.account_service.pnl_subscriptions,
            market_depth_subscriptions=self.gateway.market_depth.subscription_count,
            tick_by_tick_subscriptions=self.gateway.market_data.tick_by_tick_count,
            real_time_bar_subscriptions=self.gateway.real_time_bars.subscription_count,
            live_bar_subscriptions=self.gateway.historical.live_count,
        )

    def _response_delay_seconds(self, fields: list[str]) -> float:
        if self._delayed_messages and (not fields or not fields[0].isdigit()):
            return 0.0
        if self._delayed_messages and int(fields[0]) not in self._delayed_messages:
            return 0.0
        return self._response_delay


class _Host:
    """What a session sees of the simulator: the gateway core, the clock and the response delay."""

    def __init__(self, gateway: Gateway, clock: Clock, delay: Callable[[list[str]], float]) -> None:
        self._gateway = gateway
        self._clock = clock
        self._delay = delay

    def clock_text(self) -> str:
        return format_ib_datetime(self._clock())

    def register(self, session: Session) -> bool:
        return self._gateway.register(session)

    def unregister(self, session: Session) -> None:
        self._gateway.unregister(session)

    def greet(self, session: Session) -> None:
        self._gateway.greet(session)

    def dispatch(self, session: Session, fields: list[str]) -> None:
        dispatch(self._gateway, session, fields)

    def response_delay(self, fields: list[str]) -> float:
        return self._delay(fields)
