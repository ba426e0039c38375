"""Application wiring: builds every component from the settings, starts them in order and
stops them in the reverse order. start() and stop() are idempotent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import grpc.aio
import structlog
from grpc_health.v1 import _async as health_aio  # the asyncio HealthServicer (health.aio)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Gauge
from redis.asyncio import Redis

from ibkr.v1 import (
    gateway_service_pb2,
    gateway_service_pb2_grpc,
    market_data_service_pb2,
    market_data_service_pb2_grpc,
    option_service_pb2,
    option_service_pb2_grpc,
    order_service_pb2,
    order_service_pb2_grpc,
    portfolio_service_pb2,
    portfolio_service_pb2_grpc,
    risk_service_pb2,
    risk_service_pb2_grpc,
)
from ibkr_grpc.api.access import AccessControl, is_loopback
from ibkr_grpc.api.gateway_servicer import GatewayServicer
from ibkr_grpc.api.interceptors import CallInterceptor
from ibkr_grpc.api.market_data_servicer import LiveStreams, MarketDataServicer
from ibkr_grpc.api.option_servicer import OptionServicer
from ibkr_grpc.api.order_servicer import OrderServicer
from ibkr_grpc.api.portfolio_servicer import PortfolioServicer
from ibkr_grpc.api.risk_servicer import RiskServicer
from ibkr_grpc.api.tokens import TokenVerifier
from ibkr_grpc.broker.contract_lookup import ContractLookup
from ibkr_grpc.broker.live_bars import LiveBarsReader
from ibkr_grpc.broker.market_data import MarketDataReader
from ibkr_grpc.broker.market_depth import MarketDepthReader
from ibkr_grpc.broker.portfolio import PortfolioReader
from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.session import GatewaySession, SessionSettings
from ibkr_grpc.broker.subscription_answers import GatewayClock
from ibkr_grpc.broker.tick_by_tick import TickByTickReader
from ibkr_grpc.bus.in_process import InProcessBus, InProcessCache
from ibkr_grpc.bus.redis_bus import RedisBus, RedisCache, connect_redis, redis_reachable
from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.observability.call_metrics import PrometheusCallRecorder
from ibkr_grpc.observability.endpoint import MetricsEndpoint
from ibkr_grpc.observability.followers import (
    BusMetrics,
    DependencyHealth,
    PortfolioMetrics,
    SessionMetrics,
)
from ibkr_grpc.observability.metrics import Metrics
from ibkr_grpc.observability.telemetry import PrometheusTelemetry
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.historical_pacing import HistoricalPacer
from ibkr_grpc.services.live_bars import LiveBarsService
from ibkr_grpc.services.market_data import MarketDataService
from ibkr_grpc.services.market_depth import MarketDepthService
from ibkr_grpc.services.option_chains import OptionChainService
from ibkr_grpc.services.order_event_feed import OrderEventFeed
from ibkr_grpc.services.order_manager import OrderManager, PreTradeChecks
from ibkr_grpc.services.portfolio import PortfolioService
from ibkr_grpc.services.ports import Cache, MessageBus
from ibkr_grpc.services.quote_hub import QuoteHub
from ibkr_grpc.services.quote_leases import FollowerQuoteHub, LeaseServer
from ibkr_grpc.services.risk_engine import RiskEngine
from ibkr_grpc.services.tick_streams import TickStreamService
from ibkr_grpc.services.trading_control import TradingControl
from ibkr_grpc.services.trading_mode_guard import TradingModeGuard
from ibkr_grpc.settings import Settings
from ibkr_grpc.store.audit_store import AuditStore
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import current_revision, head_revision, upgrade
from ibkr_grpc.store.order_archive import ArchiveSchedule, OrderArchiver
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.risk_store import RiskStore, read_limits_file
from ibkr_grpc.store.snapshot_store import PositionSnapshot, SnapshotStore

_log = structlog.get_logger("ibkr_grpc.app")

# How often the database and Redis are probed (metrics, and health for the database).
DEPENDENCY_CHECK_SECONDS = 2.0
# How often ORDER_ARCHIVE_AFTER_DAYS archives (store/order_archive.py).
ARCHIVE_INTERVAL = timedelta(hours=1)
# Services whose health follows the gateway session: NOT_SERVING until it is READY.
TRADING_SERVICES = (
    order_service_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name,
    risk_service_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name,
    portfolio_service_pb2.DESCRIPTOR.services_by_name["PortfolioService"].full_name,
    market_data_service_pb2.DESCRIPTOR.services_by_name["MarketDataService"].full_name,
    option_service_pb2.DESCRIPTOR.services_by_name["OptionService"].full_name,
)
# Every mutating call leaves an audit entry.
AUDITED_METHODS = frozenset(
    {
        f"/ibkr.v1.OrderService/{name}"
        for name in ("PlaceOrder", "ModifyOrder", "CancelOrder", "CancelAllOrders")
    }
    | {
        f"/ibkr.v1.RiskService/{name}"
        for name in ("UpdateRiskLimits", "HaltTrading", "ResumeTrading")
    }
)
MARKET_DATA_SERVICE = market_data_service_pb2.DESCRIPTOR.services_by_name[
    "MarketDataService"
].full_name
GATEWAY_SERVICE = gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name
ORDER_SERVICE = order_service_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name


def utc_now() -> datetime:
    return datetime.now(UTC)


class DatabaseNotMigratedError(RuntimeError):
    pass


def token_verifier(settings: Settings) -> TokenVerifier | None:
    """The verifier the settings ask for; None when authentication is disabled."""
    if settings.auth_disabled:
        return None
    if settings.jwt_algorithm == "RS256" and settings.jwt_public_key_file is not None:
        key = settings.jwt_public_key_file.read_text(encoding="utf-8")
    else:
        key = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    return TokenVerifier(
        key=key,
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


@dataclass(slots=True)
class HealthInputs:
    """What the trading services' health is computed from."""

    gateway_ready: bool = False
    trading_blocked: bool = False
    database_up: bool = True


class Application:
    def __init__(  # noqa: PLR0915  the wiring reads best as one sequence, in start-up order
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.metrics = Metrics()
        self.telemetry = PrometheusTelemetry(self.metrics)
        self.session_metrics = SessionMetrics(self.metrics)
        self.metrics_endpoint = MetricsEndpoint(self.metrics.registry, settings.metrics_listen)
        self.database = database or Database(settings.database_url.get_secret_value())
        self.orders = OrderStore(self.database)
        self.archive_schedule: ArchiveSchedule | None = None
        if settings.order_archive_after_days is not None and settings.ib_session_role == "owner":
            self.archive_schedule = ArchiveSchedule(
                OrderArchiver(self.orders),
                older_than=timedelta(days=settings.order_archive_after_days),
                interval=ARCHIVE_INTERVAL,
                clock=clock,
            )
        self.session = GatewaySession(
            SessionSettings(
                host=settings.ib_host,
                port=settings.ib_port,
                client_id=settings.ib_client_id,
                request_timeout=settings.ib_request_timeout_seconds,
                connect_timeout=settings.ib_connect_timeout_seconds,
                reconnect_initial_delay=settings.ib_reconnect_initial_delay_seconds,
                reconnect_max_delay=settings.ib_reconnect_max_delay_seconds,
                watchdog_interval=settings.ib_watchdog_interval_seconds,
            ),
            clock=clock,
            limiter=RequestLimiter(
                on_request=self.session_metrics.request_sent,
                on_throttled=self.session_metrics.request_throttled,
            ),
        )
        self.session.add_state_listener(self.session_metrics.state_changed)
        self.session.add_error_listener(self.session_metrics.error_received)
        self.monitor = GatewayMonitor(self.session.state(), clock=clock)
        self.trading_mode_guard = TradingModeGuard(settings.trading_mode)
        self.audit = AuditStore(self.database)
        self.risk_store = RiskStore(self.database)
        self.portfolio_reader = PortfolioReader(self.session.ib, self.session.limiter, clock=clock)
        self.risk = RiskEngine(
            self.risk_store,
            self.orders,
            self.portfolio_reader,
            clock=clock,
            deltas=self._option_delta,
        )
        self.trading = TradingControl(
            self.risk_store,
            self.audit,
            limits=self.risk.limits,
            clock=clock,
            telemetry=self.telemetry,
        )
        self._follow_gateway_state()
        self.session.after_ready(self.portfolio_reader.subscribe)
        self.snapshots = SnapshotStore(self.database)
        self.session.after_ready(self._record_snapshot)
        self.portfolio_reader.add_listener(self.trading.portfolio_updated)
        self.portfolio = PortfolioService(
            self.portfolio_reader, self.monitor, trading_mode=settings.trading_mode, clock=clock
        )
        self.portfolio_reader.add_listener(
            PortfolioMetrics(self.metrics, self.portfolio_reader.positions).updated
        )
        self.market_data_reader = MarketDataReader(
            self.session.ib,
            self.session.limiter,
            clock=clock,
            request_timeout=settings.ib_request_timeout_seconds,
        )
        self.quote_hub = QuoteHub(
            self.market_data_reader,
            line_limit=settings.market_data_line_limit,
            linger_seconds=settings.quote_linger_seconds,
        )
        self.market_data_reader.add_quote_listener(self.quote_hub.publish)
        self.market_data_reader.add_failure_listener(self.quote_hub.fail)
        self.session.after_ready(self.quote_hub.reopen)
        # IB's historical pacing is kept by one pacer for one-off bars and live bars alike.
        self.historical_pacer = HistoricalPacer()
        self.market_data = MarketDataService(
            self.market_data_reader,
            # Qualifies every contract the API names (options and futures too), for market
            # data and orders alike (orders are qualified through the market-data service).
            self._contract_lookup(),
            self.quote_hub,
            self.monitor,
            clock=clock,
            pacer=self.historical_pacer,
            telemetry=self.telemetry,
        )
        self.market_data_reader.add_quote_listener(self.market_data.quote_received)
        self.live_streams = self._live_streams(settings, clock)
        self.order_manager = OrderManager(
            self.orders,
            self.session,
            clock=clock,
            acknowledgement_timeout=timedelta(
                seconds=settings.order_acknowledgement_timeout_seconds
            ),
            telemetry=self.telemetry,
            checks=PreTradeChecks(self.risk, self.trading, (self.trading_mode_guard,)),
            market=self.market_data,
            command_queue_limit=settings.order_command_queue_limit,
        )
        self.trading.attach(self._cancel_working_orders)
        self.session.add_state_listener(self.trading.gateway_state_changed)
        self.session.attach(self.order_manager, self.order_manager.reconcile)
        self.metrics.market_data_line_limit.set(settings.market_data_line_limit)
        self.metrics.market_data_lines_in_use.set_function(self._lines_in_use)
        self.health = health_aio.HealthServicer()
        self.access = AccessControl(
            token_verifier(settings),
            on_failure=lambda cause: self.metrics.authentication_failures.labels(
                reason=cause
            ).inc(),
        )
        self.shutting_down = asyncio.Event()
        self.interceptor = CallInterceptor(
            self.shutting_down,
            auditor=self.audit,
            audited_methods=AUDITED_METHODS,
            clock=clock,
            recorder=PrometheusCallRecorder(self.metrics, self.telemetry),
            gatekeeper=self.access,
            reflection_guard=self._guard_reflection,
            receive_timeout=settings.grpc_request_receive_timeout_seconds,
        )
        self.server = grpc.aio.server(
            interceptors=[self.interceptor],
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                # Above Envoy's 60 KiB request headers, so an oversized HTTP/JSON request is
                # refused by Envoy with a catalogue error, not by grpc-core before any server
                # code runs (which answers RESOURCE_EXHAUSTED with no reason).
                ("grpc.max_metadata_size", 128 * 1024),
            ],
        )
        self.port = 0
        self._redis_client: Redis | None = None
        self.lease_server: LeaseServer | None = None
        self.follower_hub: FollowerQuoteHub | None = None
        # Health updates follow state changes that arrive in synchronous callbacks.
        self._health_updates: set[asyncio.Task[None]] = set()
        self._health_inputs = HealthInputs()
        self._started = self._stopped = self._fully_started = False

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self._prepare_database()
        limits_file = self.settings.risk_limits_file
        await self.risk.load(read_limits_file(limits_file) if limits_file else None)
        await self.trading.load()
        if self.settings.auth_disabled:
            _log.warning(
                "AUTHENTICATION IS DISABLED: every caller can trade; never run like this "
                "where anyone but you can reach the server"
            )
        self.bus, self.cache = await self._connect_bus()
        self.dependency_health = DependencyHealth(
            self.metrics,
            database=self.database.is_reachable,
            redis=self._redis_reachable,
            interval=DEPENDENCY_CHECK_SECONDS,
            on_database=self._database_reachable,
        )
        self.dependency_health.start()
        self.metrics_endpoint.start()
        self.feed = OrderEventFeed(self.orders, self.monitor, self.bus, clock=self._clock)
        self.orders.add_listener(self.feed.publish)
        self.feed.start()
        if self.is_follower:
            self.follower_hub = FollowerQuoteHub(self.bus)
            self.market_data.follow(self.follower_hub, self.cache)
        else:
            self.market_data.share(self.cache, self.bus)
            self.lease_server = LeaseServer(self.bus, self.quote_hub, self.market_data.qualify)
            self.lease_server.start()
        order_service_pb2_grpc.add_OrderServiceServicer_to_server(
            OrderServicer(self.order_manager, self.orders, self.feed), self.server
        )
        gateway_service_pb2_grpc.add_GatewayServiceServicer_to_server(
            GatewayServicer(
                self.monitor,
                trading_mode=self.settings.trading_mode,
                market_data_line_limit=self.quote_hub.line_limit,
                lines_in_use=self._lines_in_use,
            ),
            self.server,
        )
        portfolio_service_pb2_grpc.add_PortfolioServiceServicer_to_server(
            PortfolioServicer(self.portfolio), self.server
        )
        market_data_service_pb2_grpc.add_MarketDataServiceServicer_to_server(
            MarketDataServicer(self.market_data, self.live_streams), self.server
        )
        option_chains = OptionChainService(
            self._contract_lookup(), self.market_data, clock=self._clock
        )
        option_service_pb2_grpc.add_OptionServiceServicer_to_server(
            OptionServicer(option_chains), self.server
        )
        risk_service_pb2_grpc.add_RiskServiceServicer_to_server(
            RiskServicer(self.risk, self.trading), self.server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = (
            *TRADING_SERVICES,
            GATEWAY_SERVICE,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        )
        if self.settings.reflection_enabled:
            reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), self.server)
        await self._set_health(ready=False)
        await self.health.set(GATEWAY_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        self.port = self.server.add_insecure_port(self.settings.grpc_listen)
        await self.server.start()
        self.order_manager.start()
        if self.archive_schedule is not None:
            self.archive_schedule.start()
        if self.is_follower:
            # No session here: market data comes from the owner; the rest needs the owner.
            await self.health.set(MARKET_DATA_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        else:
            await self.session.start()
        self._fully_started = True
        _log.info(
            "serving",
            listen=self.settings.grpc_listen,
            port=self.port,
            trading_mode=self.settings.trading_mode.value,
        )

    async def _stop_partial_start(self) -> None:
        """After a start() that failed part way: close what it opened, and nothing else, so
        the error that stopped it is the one reported."""
        _log.info("stopping after a failed start")
        await self.server.stop(0)
        await self.order_manager.stop()
        if self.archive_schedule is not None:
            await self.archive_schedule.stop()
        await self.session.stop()
        await self.trading.stop()
        for name in ("feed", "dependency_health"):
            part = getattr(self, name, None)
            if part is not None:
                await part.stop()
        self.metrics_endpoint.stop()
        bus = getattr(self, "bus", None)
        if bus is not None:
            await bus.close()
        await self.database.dispose()

    def _contract_lookup(self) -> ContractLookup:
        return ContractLookup(
            self.session.ib,
            self.session.limiter,
            request_timeout=self.settings.ib_request_timeout_seconds,
        )

    def _live_streams(self, settings: Settings, clock: Callable[[], datetime]) -> LiveStreams:
        """Order books, tick-by-tick data and live bars: a reader of each on the session's IB
        client, a service sharing its subscriptions, reopened after every reconnect."""
        ib, limiter = self.session.ib, self.session.limiter
        timeout = settings.ib_request_timeout_seconds
        linger = settings.quote_linger_seconds
        gateway_clock = GatewayClock(ib, timeout=timeout)
        depth_reader = MarketDepthReader(
            ib, limiter, clock=clock, gateway_clock=gateway_clock, request_timeout=timeout
        )
        tick_reader = TickByTickReader(
            ib, limiter, clock=clock, gateway_clock=gateway_clock, request_timeout=timeout
        )
        bars_reader = LiveBarsReader(
            ib, limiter, gateway_clock=gateway_clock, request_timeout=timeout
        )
        qualify = self.market_data.qualify
        depth = MarketDepthService(
            depth_reader, qualify, self.monitor, clock=clock, linger_seconds=linger
        )
        ticks = TickStreamService(
            tick_reader, qualify, self.monitor, clock=clock, linger_seconds=linger
        )
        bars = LiveBarsService(
            bars_reader,
            qualify,
            self.monitor,
            clock=clock,
            linger_seconds=linger,
            pacer=self.historical_pacer,
        )
        depth_reader.add_book_listener(depth.book_received)
        depth_reader.add_failure_listener(depth.subscription_failed)
        tick_reader.add_tick_listener(ticks.tick_received)
        tick_reader.add_failure_listener(ticks.subscription_failed)
        bars_reader.add_bar_listener(bars.bar_received)
        bars_reader.add_failure_listener(bars.subscription_failed)
        for reopen in (depth.reopen, ticks.reopen, bars.reopen):
            self.session.after_ready(reopen)
        held = Gauge(
            "ib_subscriptions",
            "IB streaming subscriptions held, shared by every stream that reads them.",
            ["kind"],
            registry=self.metrics.registry,
        )
        held.labels(kind="market_depth").set_function(lambda: depth.subscriptions)
        held.labels(kind="tick_by_tick").set_function(lambda: ticks.subscriptions)
        held.labels(kind="live_bars").set_function(lambda: bars.subscriptions)
        return LiveStreams(depth, ticks, bars)

    @property
    def is_follower(self) -> bool:
        return self.settings.ib_session_role == "follower"

    def _option_delta(self, contract: ContractSpec) -> Decimal | None:
        """An option's model delta from its quote, when the gateway holds one (max_underlying_delta
        counts an option without one at its worst)."""
        quote = self.market_data_reader.latest(contract.con_id) if contract.con_id else None
        greeks = quote.greeks if quote is not None else None
        return greeks.delta if greeks is not None else None

    def _lines_in_use(self) -> int:
        if self.follower_hub is not None:
            return self.follower_hub.lines_in_use
        return self.quote_hub.lines_in_use

    async def _record_snapshot(self) -> None:
        """After every reconciliation, keep the accounts' values and positions for the record."""
        reader = self.portfolio_reader
        values = {
            account: [(v.tag, v.value, v.currency) for v in reader.summary(account).values]
            for account in reader.accounts()
        }
        positions = [
            PositionSnapshot(
                p.account, p.contract.con_id, p.contract.symbol, p.quantity, p.average_cost
            )
            for p in reader.positions()
        ]
        await self.snapshots.save(
            snapshot_time=self._clock(), account_values=values, positions=positions
        )

    def _guard_reflection(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        if not is_loopback(context.peer()):
            self.access.authenticate(method, context)

    async def _cancel_working_orders(self, account: str) -> list[str]:
        """For a halt that cancels: the account's working orders ("" for every account)."""
        return [order.order_id for order in await self.order_manager.cancel_all(account)]

    async def _connect_bus(self) -> tuple[MessageBus, Cache]:
        if self.settings.redis_url is None:
            return InProcessBus(), InProcessCache()
        client = await connect_redis(self.settings.redis_url.get_secret_value())
        self._redis_client = client
        prefix = self.settings.redis_key_prefix
        observer = BusMetrics(self.metrics)
        return (
            RedisBus(client, prefix=prefix, observer=observer),
            RedisCache(client, prefix=prefix, observer=observer),
        )

    async def _redis_reachable(self) -> bool:
        if self._redis_client is None:
            return True
        return await redis_reachable(self._redis_client)

    async def _prepare_database(self) -> None:
        folder = self.settings.embedded_database_folder()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        if self.settings.is_embedded_database:
            await upgrade(self.database)
            return
        current = await current_revision(self.database)
        if current != head_revision():
            message = f"the database schema is at {current!r}, not {head_revision()!r}: run 'ibkr-grpc db upgrade'"
            raise DatabaseNotMigratedError(message)

    def _follow_gateway_state(self) -> None:
        """The monitor (GetGatewayStatus, streams) and health read the session's state through
        the trading-mode guard, which fills in trading_blocked_reason."""
        self.session.add_state_listener(self.trading_mode_guard.gateway_state_changed)
        self.trading_mode_guard.add_state_listener(self.monitor.update)
        self.trading_mode_guard.add_state_listener(self._follow_health)

    def _follow_health(self, state: GatewayState) -> None:
        self._health_inputs.gateway_ready = state.state is ConnectionState.READY
        self._health_inputs.trading_blocked = bool(state.trading_blocked_reason)
        self._update_health()

    def _database_reachable(self, up: bool) -> None:  # noqa: FBT001  a probe callback's value
        inputs = self._health_inputs
        if up != inputs.database_up:
            if up:
                _log.info("database reachable again")
            else:
                _log.error("database unreachable: trading services NOT_SERVING")
        inputs.database_up = up
        self._update_health()

    def _update_health(self) -> None:
        inputs = self._health_inputs
        task = asyncio.get_running_loop().create_task(
            self._set_health(
                ready=inputs.gateway_ready and inputs.database_up,
                trading_blocked=inputs.trading_blocked,
            )
        )
        self._health_updates.add(task)
        task.add_done_callback(self._health_update_done)

    def _health_update_done(self, task: asyncio.Task[None]) -> None:
        self._health_updates.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("health update failed", exc_info=task.exception())

    async def _set_health(self, *, ready: bool, trading_blocked: bool = False) -> None:
        """The trading services follow the session and the database (NOT_SERVING while either
        is unavailable: an order could be neither stored nor sent). While the gateway's accounts do not match
        TRADING_MODE, the server as a whole and OrderService say NOT_SERVING too (the reason is
        logged and in GetGatewayStatus); reads, market data and RiskService keep serving."""
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        if self.is_follower:
            # No session here, ever: MarketDataService serves from the owner's lines (SERVING
            # since start), the server as a whole while its database answers the reads, and
            # the services that need the session stay NOT_SERVING.
            database_up = self._health_inputs.database_up
            await self.health.set("", serving if database_up else not_serving)
            for name in TRADING_SERVICES:
                if name != MARKET_DATA_SERVICE:
                    await self.health.set(name, not_serving)
            return
        for name in ("", *TRADING_SERVICES):
            blocked = trading_blocked and name in ("", ORDER_SERVICE)
            await self.health.set(name, serving if ready and not blocked else not_serving)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls, end streams with UNAVAILABLE, let unary calls finish, then
        disconnect from IB and close the database."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        if not self._fully_started:
            await self._stop_partial_start()
            return
        _log.info("shutting down")
        await self.health.enter_graceful_shutdown()
        self.shutting_down.set()
        self.interceptor.end_streams()
        await self.interceptor.streams_ended(seconds=min(grace, 1.0))
        await self.server.stop(grace)
        await self.trading.stop()
        await self.order_manager.stop()
        if self.archive_schedule is not None:
            await self.archive_schedule.stop()
        await self.feed.stop()
        await self.market_data.stop()
        if self.lease_server is not None:
            await self.lease_server.stop()
        if self.follower_hub is not None:
            await self.follower_hub.close()
        await self.portfolio_reader.stop()
        await self.session.stop()
        await self.quote_hub.close()
        await self.live_streams.depth.close()
        await self.live_streams.ticks.close()
        await self.live_streams.bars.close()
        await asyncio.gather(*self._health_updates, return_exceptions=True)
        await self.dependency_health.stop()
        self.metrics_endpoint.stop()
        await self.bus.close()
        await self.interceptor.flush_audit()
        await self.database.dispose()
        _log.info("stopped")
