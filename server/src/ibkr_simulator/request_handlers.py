"""One handler per client request id: parse the fields, ask the gateway, answer the client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ibkr_simulator import codes, market_messages, order_messages, outgoing
from ibkr_simulator.clock import format_ib_datetime
from ibkr_simulator.combos import BAG, ComboError, read_market_data_legs, resolve_combo
from ibkr_simulator.contracts import ContractQuery, ContractSpec
from ibkr_simulator.gateway import Gateway
from ibkr_simulator.historical_service import HistoricalQuery
from ibkr_simulator.market_data import LIVE
from ibkr_simulator.option_chains import ChainRequest, option_chains
from ibkr_simulator.order_events import status_report
from ibkr_simulator.order_model import read_place_order
from ibkr_simulator.outgoing import TradingSchedule
from ibkr_simulator.recipient import Recipient
from ibkr_simulator.trading_calendar import calendar_for, ib_hours
from ibkr_simulator.wire import FieldReader

Handler = Callable[[Gateway, Recipient, FieldReader], None]

NO_SECURITY_DEFINITION_TEXT = "No security definition has been found for the request"
DEPTH_VALIDATION = "Error validating request.-'bR' : cause - "


def _send_error(recipient: Recipient, request_id: int, code: int, text: str) -> None:
    recipient.send(outgoing.error(recipient.server_version, request_id, code, text))


def _resolve(
    gateway: Gateway,
    recipient: Recipient,
    request_id: int,
    query: ContractQuery,
    *,
    continuous: bool = False,
) -> ContractSpec | None:
    contract = gateway.universe.resolve_one(query, continuous=continuous)
    if contract is None:
        _send_error(
            recipient, request_id, codes.NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT
        )
    return contract


def _schedule(gateway: Gateway, contract: ContractSpec) -> TradingSchedule:
    calendar = calendar_for(is_forex=contract.is_forex)
    return TradingSchedule(*ib_hours(calendar, gateway.clock()))


# Market data ---------------------------------------------------------------------------------


def request_market_data(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    legs = read_market_data_legs(reader) if query.sec_type == BAG else ()
    if reader.flag():
        reader.pass_over(3)  # delta-neutral contract
    generic_ticks = reader.text()
    snapshot = reader.flag()
    regulatory_snapshot = reader.flag()
    combo = None
    if query.sec_type == BAG:
        try:
            combo = resolve_combo(gateway.universe, query, legs)
        except ComboError as error:
            _send_error(recipient, request_id, codes.NO_SECURITY_DEFINITION, str(error))
            return
    contract = combo.contract if combo else _resolve(gateway, recipient, request_id, query)
    if contract is None:
        return
    gateway.market_data.request(
        recipient,
        request_id,
        contract,
        generic_ticks=generic_ticks,
        snapshot=snapshot or regulatory_snapshot,
        data_type=gateway.market_data_types.get(recipient.connection_id, LIVE),
        combo=combo,
    )


def cancel_market_data(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.market_data.cancel(recipient, reader.integer())


def request_market_data_type(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.market_data_types[recipient.connection_id] = reader.integer(LIVE)


def request_tick_by_tick(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    kind = reader.text()
    reader.pass_over(1)  # numberOfTicks: no past ticks are sent first
    ignore_size = reader.flag()
    contract = _resolve(gateway, recipient, request_id, query)
    if contract is not None:
        gateway.market_data.request_tick_by_tick(
            recipient, request_id, contract, kind, ignore_size=ignore_size
        )


def cancel_tick_by_tick(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    gateway.market_data.cancel_tick_by_tick(recipient, reader.integer())


def request_market_depth(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    """reqMktDepth: IB's local refusals first (321 for a combo, no exchange or no rows), then
    the contract (200), then the depth service's own (322, 354, 10197, 309, 10092)."""
    reader.pass_over(2)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    rows = reader.integer()
    smart = reader.flag()
    cause = None
    if query.sec_type == "BAG":
        cause = "Market depth does not support combos."
    elif not query.exchange.strip():
        cause = "Please enter exchange."
    elif rows <= 0:
        cause = "Market depth rows requested must be greater than zero."
    if cause is not None:
        _send_error(recipient, request_id, codes.NOT_VALID_REQUEST, DEPTH_VALIDATION + cause)
        return
    contract = _resolve(gateway, recipient, request_id, query)
    if contract is not None:
        gateway.market_depth.request(
            recipient, request_id, contract, exchange=query.exchange, rows=rows, smart=smart
        )


def cancel_market_depth(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.market_depth.cancel(recipient, reader.integer())


def request_market_depth_exchanges(
    gateway: Gateway, recipient: Recipient, _reader: FieldReader
) -> None:
    recipient.send(gateway.market_depth.exchanges())


def request_historical_data(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    reader.pass_over(1)  # includeExpired
    end = reader.text()
    bar_size = reader.text()
    duration = reader.text()
    use_regular_hours = reader.flag()
    what_to_show = reader.text()
    format_date = reader.integer(1)
    if query.sec_type == "BAG":
        _send_error(recipient, request_id, codes.NOT_VALID_REQUEST, "Combos are not supported")
        return
    keep_up_to_date = reader.flag()
    # A continuous future (CONTFUT) serves history only, as its front month.
    contract = _resolve(gateway, recipient, request_id, query, continuous=True)
    if contract is None:
        return
    gateway.historical.request(
        recipient,
        HistoricalQuery(
            request_id,
            contract,
            end,
            bar_size,
            duration,
            what_to_show,
            format_date,
            keep_up_to_date,
            use_regular_hours=use_regular_hours,
        ),
    )


def cancel_historical_data(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.historical.cancel(recipient, reader.integer())


def request_real_time_bars(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    reader.pass_over(1)  # bar size: IB only serves five seconds
    what_to_show = reader.text()
    regular_only = reader.flag()
    contract = _resolve(gateway, recipient, request_id, query)
    if contract is not None:
        gateway.real_time_bars.request(
            recipient, request_id, contract, what_to_show, regular_only=regular_only
        )


def cancel_real_time_bars(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.real_time_bars.cancel(recipient, reader.integer())


def request_head_timestamp(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    reader.pass_over(3)  # includeExpired, useRTH, whatToShow
    format_date = reader.integer(1)
    if _resolve(gateway, recipient, request_id, query) is None:
        return
    # The simulated history has no beginning; IB's typical answer for a listed stock will do.
    earliest = dt.datetime(2004, 1, 23, 14, 30, tzinfo=dt.UTC)
    text = str(int(earliest.timestamp())) if format_date == 2 else format_ib_datetime(earliest)
    recipient.send(market_messages.head_timestamp(request_id, text))


# Contracts -----------------------------------------------------------------------------------


def request_contract_details(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    request_id = reader.integer()
    query = ContractQuery.read(reader)
    matches = gateway.universe.resolve(query, include_expired=reader.flag())
    if not matches:
        _send_error(
            recipient, request_id, codes.NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT
        )
        return
    for contract in matches:
        exchange = query.exchange or contract.exchange
        recipient.send(
            outgoing.contract_data(
                recipient.server_version,
                request_id,
                contract,
                exchange,
                _schedule(gateway, contract),
            )
        )
    recipient.send(outgoing.contract_data_end(request_id))


def request_matching_symbols(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    request_id = reader.integer()
    pattern = reader.text()
    matches = gateway.universe.search(pattern)
    recipient.send(outgoing.symbol_samples(recipient.server_version, request_id, matches))


def request_option_chain_parameters(
    gateway: Gateway, recipient: Recipient, reader: FieldReader
) -> None:
    """reqSecDefOptParams: a row per exchange and trading class, then the end. An underlying
    without options gets the end alone: an error would not do, as ib_async counts IB's 321 as
    a warning and keeps waiting, and an underlying that has no options is not an error."""
    reader.pass_over(1)
    request_id = reader.integer()
    request = ChainRequest(reader.text(), reader.text(), reader.text(), reader.integer())
    for chain in option_chains(gateway.universe, request):
        recipient.send(
            market_messages.option_parameters(
                request_id,
                chain.exchange,
                chain.underlying_con_id,
                chain.trading_class,
                chain.multiplier,
                chain.expirations,
                chain.strikes,
            )
        )
    recipient.send(market_messages.option_parameters_end(request_id))


# Orders --------------------------------------------------------------------------------------


def place_order(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    request = read_place_order(reader, recipient.server_version)
    gateway.orders.place(recipient.client_id, request)


def cancel_order(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.orders.cancel(recipient.client_id, reader.integer())


def global_cancel(gateway: Gateway, _recipient: Recipient, _reader: FieldReader) -> None:
    gateway.orders.cancel_all()


def _send_open_orders(gateway: Gateway, recipient: Recipient, client_id: int | None) -> None:
    # IB returns active orders through both openOrder and orderStatus, whichever client placed
    # them (https://interactivebrokers.github.io/tws-api/open_orders.html).
    for order in gateway.known_open_orders(client_id):
        recipient.send(order_messages.open_order(recipient.server_version, order, order.status))
        recipient.send(outgoing.order_status(status_report(order)))
    recipient.send(outgoing.open_order_end())


def request_open_orders(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    """Only this client id's working orders, for the master client too (IB's reqOpenOrders)."""
    _send_open_orders(gateway, recipient, recipient.client_id)


def request_all_open_orders(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    """Every client's working orders, bound to none of them (IB's reqAllOpenOrders)."""
    _send_open_orders(gateway, recipient, None)


def request_auto_open_orders(_gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    if recipient.client_id != 0:
        _send_error(
            recipient,
            -1,
            codes.NOT_VALID_REQUEST,
            "Error validating request:-'reqAutoOpenOrders' : cause - only client id 0 can bind",
        )


def request_completed_orders(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    """Finished orders of every client; all are API orders, so apiOnly changes nothing."""
    for order in gateway.known_completed_orders():
        recipient.send(order_messages.completed_order(recipient.server_version, order))
    recipient.send(outgoing.completed_orders_end())


def request_executions(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    request_id = reader.integer()
    client_id = reader.integer()
    account = reader.text()
    since = reader.text()
    symbol = reader.text().upper()
    sec_type = reader.text().upper()
    exchange = reader.text().upper()
    side = reader.text().upper()
    since_time = _parse_filter_time(since)
    version = recipient.server_version
    sees_all = recipient.client_id == gateway.config.master_client_id
    for record in gateway.known_executions():
        report = record.report
        if not sees_all and report.client_id != recipient.client_id:
            continue
        if client_id and report.client_id != client_id:
            continue
        if account and report.account != account:
            continue
        if symbol and report.contract.symbol.upper() != symbol:
            continue
        if sec_type and report.contract.sec_type != sec_type:
            continue
        if exchange and report.exchange.upper() != exchange:
            continue
        if side and report.side != _side_code(side):
            continue
        if since_time and report.time.split(" ")[0:2] < since_time.split(" ")[0:2]:
            continue
        recipient.send(outgoing.execution_details(version, request_id, report))
        recipient.send(
            outgoing.commission_report(
                report.execution_id, record.commission, record.currency, record.realized_pnl
            )
        )
    recipient.send(outgoing.execution_details_end(request_id))


def _side_code(side: str) -> str:
    return {"BUY": "BOT", "SELL": "SLD"}.get(side, side)


def _parse_filter_time(text: str) -> str:
    # The filter is 'yyyymmdd hh:mm:ss' (optionally with '-' between); compare as text in UTC.
    return text.replace("-", " ").strip()


def request_ids(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    recipient.send(outgoing.next_valid_id(gateway.orders.next_valid_id(recipient.client_id)))


# Account -------------------------------------------------------------------------------------


def request_account_updates(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    subscribe = reader.flag()
    account = gateway.account_service.resolve_account(reader.text())
    if account is None:
        _send_error(recipient, -1, codes.NOT_VALID_REQUEST, "Account is not managed by this login")
        return
    gateway.account_service.request_updates(recipient, account, subscribe=subscribe)


def request_account_updates_multi(
    gateway: Gateway, recipient: Recipient, reader: FieldReader
) -> None:
    reader.pass_over(2)
    request_id = reader.integer()
    account = gateway.account_service.resolve_account(reader.text())
    if account is None:
        _send_error(recipient, request_id, codes.NOT_VALID_REQUEST, "Account is not managed")
        return
    gateway.account_service.request_multi(recipient, request_id, account)


def cancel_account_updates_multi(
    gateway: Gateway, recipient: Recipient, reader: FieldReader
) -> None:
    reader.pass_over(2)
    gateway.account_service.cancel_multi(recipient, reader.integer())


def request_positions(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    gateway.account_service.request_positions(recipient)


def cancel_positions(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    gateway.account_service.cancel_positions(recipient)


def request_account_summary(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    request_id = reader.integer()
    reader.pass_over(1)  # group: every managed account belongs to "All"
    gateway.account_service.request_summary(recipient, request_id, reader.text())


def cancel_account_summary(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(2)
    gateway.account_service.cancel_summary(recipient, reader.integer())


def request_pnl(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    request_id = reader.integer()
    account = gateway.account_service.resolve_account(reader.text())
    if account is None:
        _send_error(recipient, request_id, codes.NOT_VALID_REQUEST, "Account is not managed")
        return
    gateway.account_service.request_pnl(recipient, request_id, account, None)


def request_pnl_single(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    request_id = reader.integer()
    account = gateway.account_service.resolve_account(reader.text())
    reader.pass_over(1)  # model code
    con_id = reader.integer()
    if account is None:
        _send_error(recipient, request_id, codes.NOT_VALID_REQUEST, "Account is not managed")
        return
    gateway.account_service.request_pnl(recipient, request_id, account, con_id)


def cancel_pnl(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    reader.pass_over(1)
    gateway.account_service.cancel_pnl(recipient, reader.integer())


# Session -------------------------------------------------------------------------------------


def request_current_time(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    recipient.send(outgoing.current_time(int(gateway.clock().timestamp())))


def request_managed_accounts(gateway: Gateway, recipient: Recipient, _reader: FieldReader) -> None:
    recipient.send(outgoing.managed_accounts(gateway.config.accounts))


def ignore(gateway: Gateway, recipient: Recipient, reader: FieldReader) -> None:
    """Requests a gateway accepts without an answer (a repeated startApi, server log level)."""


HANDLERS: dict[int, Handler] = {
    1: request_market_data,
    2: cancel_market_data,
    3: place_order,
    4: cancel_order,
    5: request_open_orders,
    6: request_account_updates,
    7: request_executions,
    8: request_ids,
    9: request_contract_details,
    10: request_market_depth,
    11: cancel_market_depth,
    14: ignore,
    15: request_auto_open_orders,
    16: request_all_open_orders,
    17: request_managed_accounts,
    20: request_historical_data,
    25: cancel_historical_data,
    49: request_current_time,
    50: request_real_time_bars,
    51: cancel_real_time_bars,
    58: global_cancel,
    59: request_market_data_type,
    61: request_positions,
    62: request_account_summary,
    63: cancel_account_summary,
    64: cancel_positions,
    71: ignore,
    76: request_account_updates_multi,
    77: cancel_account_updates_multi,
    78: request_option_chain_parameters,
    81: request_matching_symbols,
    82: request_market_depth_exchanges,
    87: request_head_timestamp,
    92: request_pnl,
    93: cancel_pnl,
    94: request_pnl_single,
    95: cancel_pnl,
    97: request_tick_by_tick,
    98: cancel_tick_by_tick,
    99: request_completed_orders,
}


# Where the request id sits in requests the simulator does not serve (field 0 is the message
# id; requests with a version field carry the id after it). The 321 names the request, so the
# client can tell which one failed; ib_async still counts 321 as a warning and does not end an
# awaited request on it (its RequestTimeout does).
UNSUPPORTED_REQUEST_ID_FIELD: dict[int, int] = {
    19: 4,  # replaceFA
    21: 2,  # exerciseOptions
    22: 1,  # reqScannerSubscription
    52: 2,  # reqFundamentalData
    54: 2,  # calculateImpliedVolatility
    55: 2,  # calculateOptionPrice
    67: 2,  # queryDisplayGroups
    68: 2,  # subscribeToGroupEvents
    74: 2,  # reqPositionsMulti
    79: 1,  # reqSoftDollarTiers
    83: 1,  # reqSmartComponents
    84: 1,  # reqNewsArticle
    86: 1,  # reqHistoricalNews
    88: 1,  # reqHistogramData
    96: 1,  # reqHistoricalTicks
    100: 1,  # reqWshMetaData
    102: 1,  # reqWshEventData
}


def _unsupported_request_id(message_id: int, reader: FieldReader) -> int:
    position = UNSUPPORTED_REQUEST_ID_FIELD.get(message_id)
    if position is None:
        return -1
    reader.pass_over(position)
    return reader.integer(-1)


def dispatch(gateway: Gateway, recipient: Recipient, fields: list[str]) -> None:
    """Route one request; unknown ids get IB's validation error instead of silence."""
    reader = FieldReader(fields)
    try:
        message_id = int(fields[0])
    except (IndexError, ValueError):
        _send_error(
            recipient, -1, codes.NOT_VALID_REQUEST, "Error validating request: bad message id"
        )
        return
    handler = HANDLERS.get(message_id)
    if handler is None:
        _send_error(
            recipient,
            _unsupported_request_id(message_id, reader),
            codes.NOT_VALID_REQUEST,
            f"Error validating request:-'{message_id}' : cause - "
            "this request is not supported by the simulated gateway",
        )
        return
    handler(gateway, recipient, reader)
