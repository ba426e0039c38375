"""The simulator's settings: one frozen object built at start-up and passed down."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

# Server versions the simulator formats messages for. ib_async 2.x asks for 157..178; IB's
# legacy ibapi 9.81 asks for 100..157. Versions >= 201 switch to protobuf and are not served.
MINIMUM_SERVER_VERSION = 157
MAXIMUM_SERVER_VERSION = 178


@dataclass(frozen=True)
class Limits:
    """IB's pacing and capacity limits; each can be tightened in tests."""

    # Client-to-gateway messages per second before error 100.
    messages_per_second: int = 50
    # A connection that sends this fraction of the limit within one second gets the notice
    # "Warning: Approaching max rate of 50 messages per second (48)" (code 0) first, at most
    # once a second. IB's message-code table does not list it; published client code and logs
    # show it at 48 of 50 (see codes.MESSAGE_RATE_APPROACHING).
    message_rate_notice_fraction: float = 0.95
    # A connection whose excess reaches (multiple - 1) seconds' worth of messages is closed.
    disconnect_rate_multiple: float = 2.0
    # Concurrent streaming market-data lines across all connections (error 101 past it).
    market_data_lines: int = 100
    # Concurrent tick-by-tick subscriptions (error 10190 past it): "5% of the user's total
    # market data lines", five at the default 100 (IB's TWS API documentation, Tick By Tick
    # Data, https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/); the older
    # pages gave the market-depth formula (three).
    tick_by_tick_subscriptions: int = 5
    # Distinct contracts with market depth at once, across connections (error 309 past it):
    # "TWS currently limits users to a maximum of 3 distinct market depth requests ... API
    # clients may make multiple market depth requests for the same security" (message codes,
    # https://interactivebrokers.github.io/tws-api/message_codes.html).
    market_depth_subscriptions: int = 3
    # Concurrent reqAccountSummary subscriptions per client (error 322 past it): "only two
    # active summary subscriptions" (https://interactivebrokers.github.io/tws-api/account_summary.html).
    account_summary_subscriptions: int = 2
    # Historical pacing (error 162) for bars of historical_small_bar_seconds or less: identical
    # requests, same-contract bursts, and a long window ("Pacing Violations for Small Bars (30
    # secs or less)", https://interactivebrokers.github.io/tws-api/historical_limitations.html).
    historical_small_bar_seconds: int = 30
    historical_identical_window_seconds: float = 15.0
    historical_same_contract_count: int = 6
    historical_same_contract_window_seconds: float = 2.0
    historical_requests_per_window: int = 60
    historical_window_seconds: float = 600.0
    # Bars in one historical answer before IB's "Time length exceed max".
    historical_maximum_bars: int = 10_000


@dataclass(frozen=True)
class FillPolicy:
    """How orders execute against the simulated market."""

    # Largest quantity filled per order per price step; None: as much as the book shows.
    partial_fill_quantity: float | None = None
    # "displayed": orders take only the size the book shows (the touch is the bidSize/askSize
    # the market data reports, deeper levels at worse prices), so large orders fill in several
    # executions at several prices. "unlimited": any size fills at the touch at once.
    liquidity: str = "displayed"
    # Price levels per side of the book, the touch included, one or more ticks apart.
    book_levels: int = 5
    level_spacing_ticks: int = 1
    # Size shown at each level beyond the touch; None: the same size as the touch.
    level_size: float | None = None
    # IB-like tiered commission for stocks: per share, with a minimum and a cap of trade value.
    commission_per_share: float = 0.005
    minimum_commission: float = 1.0
    maximum_commission_fraction: float = 0.01
    # FX commission as a fraction of notional, with its own minimum.
    fx_commission_fraction: float = 0.00002
    fx_minimum_commission: float = 2.0
    # IB's fixed rates for US options (per contract, with a minimum per order) and US futures
    # (per contract; exchange and regulatory fees are not modelled).
    option_commission_per_contract: float = 0.65
    option_minimum_commission: float = 1.0
    future_commission_per_contract: float = 0.85


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator needs to start; defaults match a fresh paper account."""

    host: str = "127.0.0.1"
    # 0 picks a free port (read it back from Simulator.port).
    port: int = 4002
    seed: int = 1
    accounts: tuple[str, ...] = ("DU1234567",)
    # Price steps per second of wall time; 0 disables the clock so tests step prices by hand.
    tick_rate: float = 4.0
    # Simulated market time per price step, so the same seed gives the same path at any rate.
    seconds_per_step: float = 1.0
    # The simulated clock: the instant it starts at (None: the wall clock, as at IB) and how
    # many simulated seconds pass per real second (0 stops it; set_time and advance move it).
    # Trading hours, order expiries, bar times and every timestamp sent follow this clock.
    start_time: dt.datetime | None = None
    clock_speed: float = 1.0
    starting_cash: float = 1_000_000.0
    # Whether the account has live market-data permissions; without them only delayed data
    # (reqMarketDataType 3 or 4) is served and live requests get error 354.
    market_data_subscribed: bool = True
    base_currency: str = "USD"
    # Seconds between periodic pushes of account values, portfolio and account summaries: IB
    # sends them on a position change, otherwise every three minutes
    # (https://interactivebrokers.github.io/tws-api/account_updates.html). Tests shorten it.
    account_update_interval: float = 180.0
    # Seconds between reqPnL / reqPnLSingle updates (IB sends them about once a second,
    # https://interactivebrokers.github.io/tws-api/pnl.html).
    pnl_update_interval: float = 1.0
    # Seconds from a snapshot request to its tickSnapshotEnd; the ticks themselves go at once.
    # IB: "snapshot ... 11 seconds" (https://interactivebrokers.github.io/tws-api/md_request.html).
    snapshot_end_seconds: float = 11.0
    # Simulated seconds between historicalDataUpdate messages of a keepUpToDate request, drawn
    # anew for each update from this range (IB's updates come every 4 to 6 seconds, not on
    # every trade); (0, 0) sends one on every price step.
    bar_update_seconds: tuple[float, float] = (4.0, 6.0)
    # TWS's "Master API client ID": that client also receives the openOrder, orderStatus,
    # execDetails and commissionReport of every other client's orders as they happen, and every
    # client's executions in reqExecutions; errors stay with the client that placed the order.
    # Other clients hear only of their own orders (None: no master, as by default).
    master_client_id: int | None = None
    # Extra contract files whose entries extend or override the bundled universe.
    contract_files: tuple[Path, ...] = ()
    # Optional line-based control interface (host, port); port 0 picks a free one.
    control_host: str = "127.0.0.1"
    control_port: int | None = None
    # Messages waiting to be written to one connection before the gateway drops it.
    outgoing_queue_size: int = 20_000
    limits: Limits = field(default_factory=Limits)
    fills: FillPolicy = field(default_factory=FillPolicy)
