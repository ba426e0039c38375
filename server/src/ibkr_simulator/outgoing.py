"""Builders for the gateway-to-client messages, field for field as ib_async's decoder reads them.

Each builder returns the list of fields of one message; version-dependent layouts take the
negotiated server version. Order messages (openOrder, completedOrder) live in order_messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.wire import UNSET_DOUBLE, Field

Message = list[Field]


class OutgoingId:
    """Message ids the gateway sends (EDecoder's IN ids)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERROR = 4
    OPEN_ORDER = 5
    ACCOUNT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCOUNT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCOUNTS = 15
    HISTORICAL_DATA = 17
    TICK_GENERIC = 45
    TICK_STRING = 46
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCOUNT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    SYMBOL_SAMPLES = 79
    HEAD_TIMESTAMP = 88
    TICK_REQUEST_PARAMETERS = 81
    HISTORICAL_DATA_UPDATE = 90
    PNL = 94
    PNL_SINGLE = 95
    TICK_BY_TICK = 99
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


def whole(value: float) -> int | float:
    """Sizes and positions go out as integers when they are whole, as IB prints them."""
    return int(value) if float(value).is_integer() else value


def error(version: int, request_id: int, code: int, text: str, advanced: str = "") -> Message:
    fields: Message = [OutgoingId.ERROR, 2, request_id, code, text]
    if version >= 166:
        fields.append(advanced)
    return fields


def next_valid_id(order_id: int) -> Message:
    return [OutgoingId.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: Sequence[str]) -> Message:
    return [OutgoingId.MANAGED_ACCOUNTS, 1, ",".join(accounts)]


def current_time(epoch_seconds: int) -> Message:
    return [OutgoingId.CURRENT_TIME, 1, epoch_seconds]


@dataclass(frozen=True)
class TradingSchedule:
    """Trading and liquid hours strings for contract details (IB's 'YYYYMMDD:HHMM-...' form)."""

    trading_hours: str
    liquid_hours: str


def contract_data(
    version: int,
    request_id: int,
    contract: ContractSpec,
    exchange: str,
    schedule: TradingSchedule,
) -> Message:
    fields: Message = [OutgoingId.CONTRACT_DATA]
    if version < 164:
        fields.append(8)
    fields += [
        request_id,
        contract.symbol,
        contract.sec_type,
        contract.last_trade_date,
        contract.strike,
        contract.right,
        exchange,
        contract.currency,
        contract.local_symbol,
        contract.trading_class,
        contract.trading_class,
        contract.con_id,
        contract.min_tick,
    ]
    if version < 164:
        fields.append(1)
    order_types = (
        "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AON,AVGCOST,BASKET,DAY,DEACT,DEACTDIS,GAT,GTC,"
        "GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,MTL,NONALGO,OCA,SCALE,STP,STPLMT,TRAIL,TRAILLIT,"
        "TRAILLMT,TRAILMIT,WHATIF"
    )
    fields += [
        contract.multiplier,
        order_types,
        ",".join(contract.valid_exchanges),
        1,
        contract.underlying_con_id,
        contract.long_name,
        contract.primary_exchange,
        contract.contract_month,
        contract.industry,
        contract.category,
        contract.subcategory,
        contract.time_zone,
        schedule.trading_hours,
        schedule.liquid_hours,
        "",
        "",
        0,
        1 if not contract.is_forex else 4,
        contract.underlying_symbol,
        contract.underlying_sec_type,
        ",".join("26" for _ in contract.valid_exchanges),
        contract.last_trade_date,
        contract.stock_type,
    ]
    if version == 163:
        fields.append(100)
    if version >= 164:
        fields += [1, 1, 100]
    return fields


def contract_data_end(request_id: int) -> Message:
    return [OutgoingId.CONTRACT_DATA_END, 1, request_id]


def symbol_samples(version: int, request_id: int, contracts: Sequence[ContractSpec]) -> Message:
    fields: Message = [OutgoingId.SYMBOL_SAMPLES, request_id, len(contracts)]
    for contract in contracts:
        derivatives = [] if contract.is_forex else ["OPT", "WAR", "CFD"]
        fields += [
            contract.con_id,
            contract.symbol,
            contract.sec_type,
            contract.primary_exchange or contract.exchange,
            contract.currency,
            len(derivatives),
            *derivatives,
        ]
        if version >= 176:
            fields += [contract.long_name, ""]
    return fields


def contract_terms(contract: ContractSpec) -> Message:
    """lastTradeDateOrContractMonth, strike, right and multiplier: empty for stocks and forex."""
    return [contract.last_trade_date, contract.strike, contract.right, contract.multiplier]


def position_exchange(contract: ContractSpec) -> str:
    return contract.primary_exchange if contract.sec_type == "STK" else contract.exchange


def position(account: str, contract: ContractSpec, quantity: float, average_cost: float) -> Message:
    return [
        OutgoingId.POSITION_DATA,
        3,
        account,
        contract.con_id,
        contract.symbol,
        contract.sec_type,
        *contract_terms(contract),
        position_exchange(contract),
        contract.currency,
        contract.local_symbol,
        contract.trading_class,
        whole(quantity),
        average_cost,
    ]


def position_end() -> Message:
    return [OutgoingId.POSITION_END, 1]


def account_value(key: str, value: str, currency: str, account: str) -> Message:
    return [OutgoingId.ACCOUNT_VALUE, 2, key, value, currency, account]


@dataclass(frozen=True)
class PortfolioLine:
    """One portfolio row: a position marked to market."""

    contract: ContractSpec
    quantity: float
    market_price: float
    market_value: float
    average_cost: float
    unrealized_pnl: float
    realized_pnl: float


def portfolio_value(line: PortfolioLine, account: str) -> Message:
    contract = line.contract
    return [
        OutgoingId.PORTFOLIO_VALUE,
        8,
        contract.con_id,
        contract.symbol,
        contract.sec_type,
        *contract_terms(contract),
        contract.primary_exchange,
        contract.currency,
        contract.local_symbol,
        contract.trading_class,
        whole(line.quantity),
        line.market_price,
        line.market_value,
        line.average_cost,
        line.unrealized_pnl,
        line.realized_pnl,
        account,
    ]


def account_update_time(hours_minutes: str) -> Message:
    return [OutgoingId.ACCOUNT_UPDATE_TIME, 1, hours_minutes]


def account_download_end(account: str) -> Message:
    return [OutgoingId.ACCOUNT_DOWNLOAD_END, 1, account]


def account_update_multi(
    request_id: int, account: str, model: str, key: str, value: str, currency: str
) -> Message:
    return [OutgoingId.ACCOUNT_UPDATE_MULTI, 1, request_id, account, model, key, value, currency]


def account_update_multi_end(request_id: int) -> Message:
    return [OutgoingId.ACCOUNT_UPDATE_MULTI_END, 1, request_id]


def account_summary(request_id: int, account: str, tag: str, value: str, currency: str) -> Message:
    return [OutgoingId.ACCOUNT_SUMMARY, 1, request_id, account, tag, value, currency]


def account_summary_end(request_id: int) -> Message:
    return [OutgoingId.ACCOUNT_SUMMARY_END, 1, request_id]


def pnl(request_id: int, daily: float, unrealized: float, realized: float) -> Message:
    return [OutgoingId.PNL, request_id, daily, unrealized, realized]


def pnl_single(
    request_id: int,
    quantity: float,
    daily: float,
    unrealized: float,
    realized: float,
    value: float,
) -> Message:
    return [OutgoingId.PNL_SINGLE, request_id, whole(quantity), daily, unrealized, realized, value]


@dataclass(frozen=True)
class ExecutionReport:
    """One fill as execDetails reports it."""

    execution_id: str
    order_id: int
    client_id: int
    perm_id: int
    account: str
    contract: ContractSpec
    exchange: str
    time: str
    side: str
    shares: float
    price: float
    cumulative_quantity: float
    average_price: float
    order_reference: str
    # 1 added liquidity, 2 removed it.
    last_liquidity: int


def execution_details(version: int, request_id: int, report: ExecutionReport) -> Message:
    contract = report.contract
    fields: Message = [
        OutgoingId.EXECUTION_DATA,
        request_id,
        report.order_id,
        contract.con_id,
        contract.symbol,
        contract.sec_type,
        *contract_terms(contract),
        report.exchange,
        contract.currency,
        contract.local_symbol,
        contract.trading_class,
        report.execution_id,
        report.time,
        report.account,
        report.exchange,
        report.side,
        whole(report.shares),
        report.price,
        report.perm_id,
        report.client_id,
        0,
        whole(report.cumulative_quantity),
        report.average_price,
        report.order_reference,
        "",
        "",
        "",
        report.last_liquidity,
    ]
    if version >= 178:
        fields.append(0)
    return fields


def execution_details_end(request_id: int) -> Message:
    return [OutgoingId.EXECUTION_DATA_END, 1, request_id]


def commission_report(
    execution_id: str, commission: float, currency: str, realized_pnl: float | None
) -> Message:
    # IB reports "no realized PnL" (an opening fill) and "no yield" as the unset double.
    realized = UNSET_DOUBLE if realized_pnl is None else realized_pnl
    return [
        OutgoingId.COMMISSION_REPORT,
        1,
        execution_id,
        commission,
        currency,
        realized,
        UNSET_DOUBLE,
        "",
    ]


@dataclass(frozen=True)
class StatusReport:
    """The fields of one orderStatus message."""

    order_id: int
    status: str
    filled: float
    remaining: float
    average_fill_price: float
    perm_id: int
    parent_id: int
    last_fill_price: float
    client_id: int
    why_held: str


def order_status(report: StatusReport) -> Message:
    return [
        OutgoingId.ORDER_STATUS,
        report.order_id,
        report.status,
        whole(report.filled),
        whole(report.remaining),
        report.average_fill_price,
        report.perm_id,
        report.parent_id,
        report.last_fill_price,
        report.client_id,
        report.why_held,
        0.0,
    ]


def open_order_end() -> Message:
    return [OutgoingId.OPEN_ORDER_END, 1]


def completed_orders_end() -> Message:
    return [OutgoingId.COMPLETED_ORDERS_END]
