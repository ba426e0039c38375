"""reqMktDepth / cancelMktDepth / reqMktDepthExchanges: the order book, streamed as row changes.

A subscription gets its whole book as inserts at once, then on every price step the changes
from the book it last saw (depth_book.row_changes): IB sends depth "without sampling nor
filtering" (https://interactivebrokers.github.io/tws-api/market_depth.html). A direct-exchange
request (isSmartDepth false) gets updateMktDepth rows; a SMART request (isSmartDepth true)
gets updateMktDepthL2 rows naming the exchange that holds each one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ibkr_simulator import codes, outgoing
from ibkr_simulator.config import FillPolicy
from ibkr_simulator.contracts import ContractSpec, ContractUniverse
from ibkr_simulator.depth_book import (
    SMART_ROUTE,
    DepthBook,
    RowChange,
    consolidated_book,
    row_changes,
    smart_book,
    venues,
)
from ibkr_simulator.outgoing import Message, whole
from ibkr_simulator.prices import PriceBook, Quote
from ibkr_simulator.recipient import Recipient

# Message ids the gateway sends (EDecoder's IN ids).
MARKET_DEPTH = 12
MARKET_DEPTH_L2 = 13
MARKET_DEPTH_EXCHANGES = 80

# 321's text names the request's code letters; these are the refusals before any data.
VALIDATION_PREFIX = "Error validating request.-'bR' : cause - "
DEEP_DATA_NOT_SUPPORTED_TEXT = (
    "Deep market data is not supported for this combination of security type/exchange"
)
NOT_SUBSCRIBED_TEXT = "Requested market data is not subscribed."
COMPETING_SESSION_TEXT = "No market data during competing live session"


def market_depth(request_id: int, change: RowChange) -> Message:
    row = change.row
    return [
        MARKET_DEPTH,
        1,
        request_id,
        change.position,
        change.operation,
        change.side,
        row.price,
        whole(row.size),
    ]


def market_depth_l2(request_id: int, change: RowChange, *, smart: bool) -> Message:
    row = change.row
    return [
        MARKET_DEPTH_L2,
        1,
        request_id,
        change.position,
        row.market_maker,
        change.operation,
        change.side,
        row.price,
        whole(row.size),
        smart,
    ]


@dataclass
class DepthSubscription:
    recipient: Recipient
    request_id: int
    contract: ContractSpec
    rows: int
    smart: bool
    # The rows the client holds now.
    shown: DepthBook = field(default_factory=DepthBook)


SubscriptionKey = tuple[int, int]


class MarketDepthService:
    """Every depth subscription of every connection, refreshed on each price step."""

    def __init__(
        self,
        prices: PriceBook,
        universe: ContractUniverse,
        fill_policy: Callable[[], FillPolicy],
        *,
        seed: int,
        limit: int,
        subscribed: bool,
        competing_session: Callable[[], bool],
    ) -> None:
        self._prices = prices
        self._universe = universe
        self._fill_policy = fill_policy
        self._seed = seed
        self._limit = limit
        self._subscribed = subscribed
        self._competing_session = competing_session
        self._subscriptions: dict[SubscriptionKey, DepthSubscription] = {}

    @property
    def subscription_count(self) -> int:
        """Depth requests held, across connections (several may share a contract)."""
        return len(self._subscriptions)

    @property
    def contracts(self) -> set[int]:
        """The conIds that hold depth now (IB counts distinct contracts against its limit)."""
        return {subscription.contract.con_id for subscription in self._subscriptions.values()}

    def request(
        self,
        recipient: Recipient,
        request_id: int,
        contract: ContractSpec,
        *,
        exchange: str,
        rows: int,
        smart: bool,
    ) -> None:
        key = (recipient.connection_id, request_id)
        refusal = self._refusal(key, contract, exchange=exchange, smart=smart)
        if refusal is not None:
            code, text = refusal
            recipient.send(outgoing.error(recipient.server_version, request_id, code, text))
            return
        subscription = DepthSubscription(recipient, request_id, contract, rows, smart)
        self._subscriptions[key] = subscription
        books = self._books({contract.con_id: self._prices.quote(contract.con_id)}, {smart})
        self._refresh(subscription, books)

    def _refusal(
        self, key: SubscriptionKey, contract: ContractSpec, *, exchange: str, smart: bool
    ) -> tuple[int, str] | None:
        if key in self._subscriptions:
            return (
                codes.SERVER_ERROR_PROCESSING_REQUEST,
                "Error processing request.-'bR' : cause - Duplicate ticker id",
            )
        if not self._subscribed:
            return codes.NO_MARKET_DATA_SUBSCRIPTION, NOT_SUBSCRIBED_TEXT
        if self._competing_session():
            return codes.NO_MARKET_DATA_DURING_COMPETING_SESSION, COMPETING_SESSION_TEXT
        held = self.contracts
        if contract.con_id not in held and len(held) >= self._limit:
            return (
                codes.MAXIMUM_MARKET_DEPTH_REQUESTS_REACHED,
                f"Max number ({self._limit}) of market depth requests has been reached",
            )
        if not smart and exchange.upper() == SMART_ROUTE:
            # A direct book needs a direct exchange; SMART aggregates only with isSmartDepth.
            return codes.DEEP_MARKET_DATA_NOT_SUPPORTED, DEEP_DATA_NOT_SUPPORTED_TEXT
        return None

    def cancel(self, recipient: Recipient, request_id: int) -> None:
        if self._subscriptions.pop((recipient.connection_id, request_id), None) is None:
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.CANNOT_FIND_MARKET_DEPTH,
                    f"Can't find the subscribed market depth with tickerId:{request_id}",
                )
            )

    def drop_recipient(self, recipient: Recipient) -> None:
        connection = recipient.connection_id
        for key in [key for key in self._subscriptions if key[0] == connection]:
            del self._subscriptions[key]

    def drop_all(self) -> None:
        """IB's 1101 (data lost): every subscription is gone and must be requested again."""
        self._subscriptions.clear()

    def on_step(self, quotes: dict[int, Quote]) -> None:
        if not self._subscriptions or self._competing_session():
            return
        kinds = {subscription.smart for subscription in self._subscriptions.values()}
        wanted = self.contracts
        books = self._books(
            {con_id: quote for con_id, quote in quotes.items() if con_id in wanted}, kinds
        )
        for subscription in list(self._subscriptions.values()):
            self._refresh(subscription, books)

    def _books(
        self, quotes: dict[int, Quote], kinds: set[bool]
    ) -> dict[tuple[int, bool], DepthBook]:
        """Each instrument's book once per step, shared by all its subscribers."""
        policy = self._fill_policy()
        books: dict[tuple[int, bool], DepthBook] = {}
        for con_id, quote in quotes.items():
            contract = self._universe.by_con_id(con_id)
            if contract is None:
                continue
            if False in kinds:
                books[(con_id, False)] = consolidated_book(quote, contract, policy)
            if True in kinds:
                books[(con_id, True)] = smart_book(quote, contract, policy, self._seed)
        return books

    def _refresh(
        self, subscription: DepthSubscription, books: dict[tuple[int, bool], DepthBook]
    ) -> None:
        book = books.get((subscription.contract.con_id, subscription.smart))
        if book is None:
            return
        shown = book.first(subscription.rows)
        changes = row_changes(subscription.shown, shown)
        subscription.shown = shown
        recipient, request_id = subscription.recipient, subscription.request_id
        for change in changes:
            if subscription.smart:
                recipient.send(market_depth_l2(request_id, change, smart=True))
            else:
                recipient.send(market_depth(request_id, change))

    def exchanges(self) -> Message:
        """mktDepthExchanges: every (exchange, security type) with a book in the universe."""
        found: dict[tuple[str, str], int] = {}
        for contract in self._universe:
            group = 4 if contract.is_forex else 1  # the aggGroup contractDetails reports
            for venue in venues(contract):
                found.setdefault((venue, contract.sec_type), group)
        fields: Message = [MARKET_DEPTH_EXCHANGES, len(found)]
        for (venue, sec_type), group in sorted(found.items()):
            fields += [venue, sec_type, "", "Deep", group]
        return fields
