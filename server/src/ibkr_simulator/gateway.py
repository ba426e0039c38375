"""The simulated gateway's core: the engines, the connected clients, and where order events go.

It knows nothing about sockets: sessions register here and receive messages through `send`.
"""

from __future__ import annotations

import copy
import logging

from ibkr_simulator import codes, outgoing
from ibkr_simulator.account import AccountBook
from ibkr_simulator.account_service import AccountService
from ibkr_simulator.clock import Clock
from ibkr_simulator.config import SimulatorConfig
from ibkr_simulator.contracts import ContractSpec, ContractUniverse
from ibkr_simulator.expiry import ExpiryService
from ibkr_simulator.historical_service import HistoricalDataService
from ibkr_simulator.market_data import MarketDataEngine
from ibkr_simulator.market_depth import MarketDepthService
from ibkr_simulator.order_engine import OrderEngine
from ibkr_simulator.order_events import ComboFilled, ExecutionRecord, OrderEvent, OrderFilled
from ibkr_simulator.order_model import SimulatedOrder
from ibkr_simulator.order_routing import OrderEventRouter
from ibkr_simulator.prices import PriceBook, Quote
from ibkr_simulator.realtime_bars import RealTimeBarService
from ibkr_simulator.recipient import Recipient

logger = logging.getLogger(__name__)


class Gateway:
    """Everything behind the API port: prices, orders, accounts, and who is connected."""

    def __init__(self, config: SimulatorConfig, universe: ContractUniverse, clock: Clock) -> None:
        self.config = config
        self.universe = universe
        self.clock = clock
        self.prices = PriceBook(universe, config.seed, config.seconds_per_step, clock)
        self.accounts = AccountBook(
            config.accounts, config.starting_cash, config.base_currency, self._mark_price
        )
        self.account_service = AccountService(
            self.accounts, clock, config.limits.account_summary_subscriptions
        )
        self.market_data = MarketDataEngine(
            self.prices,
            clock,
            config.limits,
            subscribed=config.market_data_subscribed,
            snapshot_end_seconds=config.snapshot_end_seconds,
        )
        self.historical = HistoricalDataService(
            self.prices, clock, config.limits, config.seed, config.bar_update_seconds
        )
        self.real_time_bars = RealTimeBarService(clock)
        self.orders = OrderEngine(
            universe, self.prices, self.accounts, config.fills, clock, self._route
        )
        self.market_depth = MarketDepthService(
            self.prices,
            universe,
            lambda: self.orders.fill_policy,
            seed=config.seed,
            limit=config.limits.market_depth_subscriptions,
            subscribed=config.market_data_subscribed,
            competing_session=lambda: self.market_data.competing_session,
        )
        self.expiries = ExpiryService(
            universe, self.prices, self.accounts, clock, self.account_service.after_fill
        )
        self._clients: dict[int, Recipient] = {}
        self.order_router = OrderEventRouter(config.master_client_id, self._clients.get)
        # Market data type chosen with reqMarketDataType, per connection.
        self.market_data_types: dict[int, int] = {}
        # False between error 1100 and 1101/1102: the gateway cannot reach IB's servers. The
        # market goes on moving and resting orders go on working at IB; the gateway streams no
        # market data and holds the order reports until connectivity is restored.
        self.connected_to_ib = True
        self._held_order_events: list[OrderEvent] = []
        # What the gateway last heard of the orders and executions before the outage: what it
        # answers reqOpenOrders, reqCompletedOrders and reqExecutions with until the restore.
        self._known_orders: list[SimulatedOrder] = []
        self._known_executions = 0

    # Clients -------------------------------------------------------------------------------

    def register(self, recipient: Recipient) -> bool:
        """Claim a client id for a new session; False if another session holds it (error 326)."""
        if recipient.client_id in self._clients:
            return False
        self._clients[recipient.client_id] = recipient
        return True

    def unregister(self, recipient: Recipient) -> None:
        if self._clients.get(recipient.client_id) is recipient:
            del self._clients[recipient.client_id]
        self.market_data_types.pop(recipient.connection_id, None)
        self.market_data.drop_recipient(recipient)
        self.market_depth.drop_recipient(recipient)
        self.historical.drop_recipient(recipient)
        self.real_time_bars.drop_recipient(recipient)
        self.account_service.drop_recipient(recipient)
        self.order_router.forget(recipient)

    def clients(self) -> list[Recipient]:
        return list(self._clients.values())

    def client_ids(self) -> list[int]:
        return sorted(self._clients)

    def greet(self, recipient: Recipient) -> None:
        """What a real gateway sends right after startApi."""
        version = recipient.server_version
        recipient.send(outgoing.managed_accounts(self.config.accounts))
        recipient.send(outgoing.next_valid_id(self.orders.next_valid_id(recipient.client_id)))
        for code, text in (
            (codes.MARKET_DATA_FARM_OK, "Market data farm connection is OK:usfarm"),
            (codes.HISTORICAL_DATA_FARM_OK, "HMDS data farm connection is OK:ushmds"),
            (codes.SECURITY_DEFINITION_FARM_OK, "Sec-def data farm connection is OK:secdefnj"),
        ):
            recipient.send(outgoing.error(version, -1, code, text))

    def broadcast_error(self, code: int, text: str) -> None:
        for recipient in self.clients():
            recipient.send(outgoing.error(recipient.server_version, -1, code, text))

    # Market --------------------------------------------------------------------------------

    def step(self) -> None:
        """One price step: move prices, match orders, stream ticks and bars, refresh accounts."""
        self.on_clock()
        self.publish(self.prices.step_all())

    def on_clock(self) -> None:
        """The simulated time moved: orders expire at their close and held orders open;
        futures and options past their expiry settle."""
        self.orders.on_clock()
        self.expiries.on_clock()

    def publish(self, quotes: dict[int, Quote]) -> None:
        """New books for some instruments: match orders, then stream ticks and bars."""
        self.orders.on_quotes(quotes)
        if not self.connected_to_ib:
            return  # orders work at IB; nothing reaches the gateway
        self.market_data.on_step(quotes)
        self.market_depth.on_step(quotes)
        self.historical.on_step(quotes)
        self.real_time_bars.on_step(quotes)

    def drop_market_data(self) -> None:
        """IB's 1101: every market-data, depth and bar subscription is gone."""
        self.market_data.drop_all()
        self.market_depth.drop_all()
        self.historical.drop_all()
        self.real_time_bars.drop_all()

    def push_accounts(self) -> None:
        if self.connected_to_ib:
            self.account_service.push_periodic()

    def lose_connectivity(self) -> None:
        """IB's 1100: from now on order reports wait at IB and no market data flows."""
        if self.connected_to_ib:
            self._known_orders = [copy.copy(order) for order in self.orders.orders()]
            self._known_executions = len(self.orders.executions())
        self.connected_to_ib = False
        self.broadcast_error(
            codes.CONNECTIVITY_LOST, codes.CONNECTIVITY_MESSAGES[codes.CONNECTIVITY_LOST]
        )

    def restore_connectivity(self, *, data_lost: bool) -> None:
        """IB's 1102 (data maintained) or 1101 (data lost: market-data subscriptions are gone),
        then the order reports held during the outage, in the order they happened."""
        code = (
            codes.CONNECTIVITY_RESTORED_DATA_LOST
            if data_lost
            else codes.CONNECTIVITY_RESTORED_DATA_KEPT
        )
        if data_lost:
            self.drop_market_data()
        self.connected_to_ib = True
        self.broadcast_error(code, codes.CONNECTIVITY_MESSAGES[code])
        held, self._held_order_events = self._held_order_events, []
        for event in held:
            self._route(event)
        self.account_service.push_periodic()

    @property
    def held_order_events(self) -> int:
        return len(self._held_order_events)

    # What the gateway knows of the orders: IB's book, or its last word before an outage.

    def known_open_orders(self, client_id: int | None) -> list[SimulatedOrder]:
        if self.connected_to_ib:
            return self.orders.open_orders(client_id)
        return [
            order
            for order in self._known_orders
            if order.is_working and (client_id is None or order.client_id == client_id)
        ]

    def known_completed_orders(self) -> list[SimulatedOrder]:
        if self.connected_to_ib:
            return self.orders.completed_orders()
        return [order for order in self._known_orders if order.is_done]

    def known_executions(self) -> list[ExecutionRecord]:
        executions = self.orders.executions()
        return executions if self.connected_to_ib else executions[: self._known_executions]

    def resolve_contract(self, con_id: int) -> ContractSpec | None:
        return self.universe.by_con_id(con_id)

    def _mark_price(self, contract: ContractSpec) -> float:
        quote = self.prices.quote(contract.con_id)
        # Options are marked at the midpoint: their last trade can be far behind the market.
        return quote.midpoint if contract.is_forex or contract.is_option else quote.last

    # Order events ------------------------------------------------------------------------

    def _route(self, event: OrderEvent) -> None:
        if not self.connected_to_ib:
            self._held_order_events.append(event)
            return
        self.order_router.route(event)
        if isinstance(event, OrderFilled):
            self.account_service.after_fill(event.order.account, event.order.contract.con_id)
        elif isinstance(event, ComboFilled):
            for leg in event.legs:
                self.account_service.after_fill(event.order.account, leg.report.contract.con_id)
