"""Combination (BAG) contracts: their legs as requests carry them, resolved against the universe.

A BAG contract is "a combination of securities" whose legs name each instrument by conId with a
ratio and a side (IB's ComboLeg: conId, ratio, action, exchange, openClose, shortSaleSlot,
designatedLocation, exemptCode; https://interactivebrokers.github.io/tws-api/classIBApi_1_1ComboLeg.html).
IB gives every USD combination the one conId 28812380, reports its localSymbol as that number and
its tradingClass as "COMB", and describes the legs in openOrder's comboLegsDescrip as
"conId|signed ratio,..." (a recorded OpenOrder of a combo in ib-ruby/ib-ruby's message specs:
``"28812380", "IECombo", "BAG", ..., "USD", "28812380", "COMB"`` and ``"9408|-1,43645865|1"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator.contracts import ContractQuery, ContractSpec, ContractUniverse
from ibkr_simulator.outgoing import Message
from ibkr_simulator.wire import FieldReader

BAG = "BAG"
# IB's conId of a USD combination contract (see the module docstring).
COMBO_CON_ID = 28812380
COMBO_TRADING_CLASS = "COMB"
MAXIMUM_LEGS = 8


class ComboError(Exception):
    """A combination IB would not accept; the text is the reason."""


@dataclass(frozen=True)
class LegRequest:
    """One comboLeg as a request carries it."""

    con_id: int
    ratio: int
    action: str
    exchange: str


@dataclass(frozen=True)
class OrderLegs:
    """The combo blocks of placeOrder: the legs, the per-leg prices and the routing params."""

    legs: tuple[LegRequest, ...]
    leg_prices: tuple[float | None, ...]
    routing_parameters: tuple[tuple[str, str], ...]


def read_market_data_legs(reader: FieldReader) -> tuple[LegRequest, ...]:
    """reqMktData's legs: count, then conId, ratio, action, exchange (ib_async client.py)."""
    count = reader.integer()
    return tuple(
        LegRequest(reader.integer(), reader.integer(), reader.text().upper(), reader.text())
        for _ in range(max(0, count))
    )


def read_order_legs(reader: FieldReader) -> OrderLegs:
    """placeOrder's combo blocks (ib_async client.py placeOrder): the legs with their eight
    fields, the orderComboLegs prices, and smartComboRoutingParams as tag/value pairs."""
    legs: list[LegRequest] = []
    for _ in range(max(0, reader.integer())):
        leg = LegRequest(reader.integer(), reader.integer(), reader.text().upper(), reader.text())
        reader.pass_over(4)  # openClose, shortSaleSlot, designatedLocation, exemptCode
        legs.append(leg)
    prices = tuple(reader.optional_decimal() for _ in range(max(0, reader.integer())))
    parameters = tuple((reader.text(), reader.text()) for _ in range(max(0, reader.integer())))
    return OrderLegs(tuple(legs), prices, parameters)


@dataclass(frozen=True)
class ComboLeg:
    """A resolved leg: the instrument, how many of it per combination, and its side."""

    contract: ContractSpec
    ratio: int
    action: str
    exchange: str

    @property
    def is_buy(self) -> bool:
        return self.action == "BUY"

    @property
    def sign(self) -> int:
        """+1 for a leg the combination buys, -1 for one it sells."""
        return 1 if self.is_buy else -1


@dataclass(frozen=True)
class Combo:
    """A combination: its BAG contract and its legs in the order the client gave them."""

    contract: ContractSpec
    legs: tuple[ComboLeg, ...]

    @property
    def description(self) -> str:
        """comboLegsDescrip as IB writes it: conId|signed ratio per leg."""
        return ",".join(f"{leg.contract.con_id}|{leg.sign * leg.ratio}" for leg in self.legs)


def resolve_combo(
    universe: ContractUniverse, query: ContractQuery, requests: tuple[LegRequest, ...]
) -> Combo:
    """Check the legs the way IB does before it takes a combination, and build its contract."""
    if len(requests) < 2:
        raise ComboError("A combination needs at least two legs")
    if len(requests) > MAXIMUM_LEGS:
        raise ComboError(f"A combination has at most {MAXIMUM_LEGS} legs")
    legs: list[ComboLeg] = []
    for request in requests:
        contract = universe.by_con_id(request.con_id)
        if contract is None or contract.sec_type in {BAG, "CONTFUT"}:
            raise ComboError(f"Invalid leg contract conId {request.con_id}")
        if universe.is_expired(contract):
            raise ComboError(f"Leg contract {contract.local_symbol} has expired")
        if request.ratio <= 0:
            raise ComboError(f"Invalid ratio {request.ratio} for leg {request.con_id}")
        if request.action not in {"BUY", "SELL"}:
            raise ComboError(f"Invalid action {request.action!r} for leg {request.con_id}")
        legs.append(ComboLeg(contract, request.ratio, request.action, request.exchange))
    if len({leg.contract.con_id for leg in legs}) != len(legs):
        raise ComboError("A combination cannot name the same contract twice")
    currencies = {leg.contract.currency for leg in legs}
    if len(currencies) != 1:
        raise ComboError("The legs of a combination must trade in one currency")
    return Combo(_bag_contract(query, legs), tuple(legs))


def _bag_contract(query: ContractQuery, legs: list[ComboLeg]) -> ContractSpec:
    first = legs[0].contract
    symbol = query.symbol or first.underlying_symbol or first.symbol
    return ContractSpec(
        con_id=COMBO_CON_ID,
        symbol=symbol,
        sec_type=BAG,
        exchange=query.exchange or "SMART",
        primary_exchange="",
        currency=query.currency or first.currency,
        local_symbol=str(COMBO_CON_ID),
        trading_class=COMBO_TRADING_CLASS,
        long_name=symbol,
        min_tick=min(leg.contract.min_tick for leg in legs),
        initial_price=0.0,
        annual_volatility=0.0,
        valid_exchanges=(query.exchange or "SMART",),
    )


def combo_order_fields(combo: Combo | None, leg_prices: tuple[float | None, ...]) -> Message:
    """openOrder's and completedOrder's combo blocks: comboLegsDescrip, the legs with their
    eight fields, the orderComboLegs prices and no smart-routing params (ib_async decoder.py)."""
    if combo is None:
        return ["", 0, 0, 0]
    fields: Message = [combo.description, len(combo.legs)]
    for leg in combo.legs:
        fields += [leg.contract.con_id, leg.ratio, leg.action, leg.exchange, 0, 0, "", -1]
    fields.append(len(leg_prices))
    fields += ["" if price is None else price for price in leg_prices]
    fields.append(0)
    return fields
