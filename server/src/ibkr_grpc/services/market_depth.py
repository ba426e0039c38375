"""Order-book streams: one IB depth subscription per contract, shared by every stream.

Each stream holds what its client holds (the book it last sent, at most its rows a side) and a
conflating buffer with one key, "the book changed": when it can send, it sends the levels that
differ between the book now and the book it sent. A slow reader thus gets the newest state of
every level that changed, in one message, and a stream's memory is bounded by its rows.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

import structlog

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError, SubscriptionLimitError
from ibkr_grpc.domain.live_data import (
    SMART,
    DepthBook,
    DepthChanges,
    DepthLevel,
    DepthRequest,
    DepthSnapshot,
    SubscriptionEnded,
)
from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.shared_subscriptions import SharedSubscriptions
from ibkr_grpc.services.stream_merge import follow_buffer

_log = structlog.get_logger("ibkr_grpc.market_depth")
DepthStreamItem = DepthSnapshot | DepthChanges | Heartbeat | Marker
# IB: "Max number (3) of market depth requests has been reached. Note: TWS currently limits
# users to a maximum of 3 distinct market depth requests" (error 309,
# https://interactivebrokers.github.io/tws-api/message_codes.html).
MARKET_DEPTH_CONTRACTS = 3


class _BookChanged:
    """The one value a depth stream's buffer holds besides markers."""


BOOK_CHANGED = _BookChanged()
DepthBufferItem = _BookChanged | SubscriptionEnded


class DepthSource(Protocol):
    async def start(self, request: DepthRequest) -> None: ...
    async def stop(self, request: DepthRequest) -> None: ...


class MarketDepthService:
    def __init__(
        self,
        source: DepthSource,
        qualify: Callable[[ContractSpec], Awaitable[ContractSpec]],
        monitor: GatewayMonitor,
        *,
        clock: Callable[[], datetime],
        linger_seconds: float,
        contract_limit: int = MARKET_DEPTH_CONTRACTS,
    ) -> None:
        self._source = source
        self._qualify = qualify
        self._monitor = monitor
        self._clock = clock
        # The request each held book was opened with (its venue), by conId.
        self._requests: dict[int, DepthRequest] = {}
        self._books: dict[int, DepthBook] = {}
        self._subscriptions: SharedSubscriptions[int, ConflatingBuffer[DepthBufferItem]] = (
            SharedSubscriptions(
                self._open,
                self._close,
                linger_seconds=linger_seconds,
                limit=contract_limit,
                refuse=_too_many_books,
            )
        )

    @property
    def subscriptions(self) -> int:
        return len(self._subscriptions)

    async def _open(self, con_id: int) -> None:
        try:
            await self._source.start(self._requests[con_id])
        except BaseException:
            self._requests.pop(con_id, None)
            raise

    async def _close(self, con_id: int) -> None:
        request = self._requests.pop(con_id, None)
        self._books.pop(con_id, None)
        if request is not None:
            await self._source.stop(request)

    def book_received(self, con_id: int, book: DepthBook) -> None:
        """The reader's listener: the newest book of a held contract."""
        self._books[con_id] = book
        for buffer in self._subscriptions.watchers(con_id):
            buffer.put("book", BOOK_CHANGED)

    def subscription_failed(self, con_id: int, error: ServiceError) -> None:
        """IB ended a held book: its streams end with `error`."""
        _log.warning("IB ended a market depth subscription", con_id=con_id, error=error.message)
        self._requests.pop(con_id, None)
        self._books.pop(con_id, None)
        for buffer in self._subscriptions.drop(con_id):
            buffer.put("ended", SubscriptionEnded(error))

    async def reopen(self) -> None:
        """After a reconnect (or IB's 1101): IB kept no subscription, so ask for each again."""
        for con_id in self._subscriptions.held():
            request = self._requests.get(con_id)
            if request is None:
                continue
            try:
                await self._source.start(request)
            except ServiceError as error:
                self.subscription_failed(con_id, error)

    async def close(self) -> None:
        await self._subscriptions.close()

    async def stream(
        self, contract: ContractSpec, rows: int, heartbeat: timedelta
    ) -> AsyncGenerator[DepthStreamItem]:
        """The book (at most `rows` a side), then the levels that change, with gateway
        markers and heartbeats. `contract.exchange` is SMART (aggregated) or one exchange."""
        venue = contract.exchange or SMART
        qualified = await self._qualify(contract)
        con_id = qualified.con_id
        held = self._requests.get(con_id)
        if held is not None and held.venue != venue:
            raise SubscriptionLimitError(
                f"the book of {qualified.display_name} is streamed from {held.venue}; IB holds "
                "one book per contract, so it cannot be streamed from another exchange meanwhile",
                limit="market_depth_book",
                description="one book per contract",
                metadata={"symbol": qualified.symbol, "venue": held.venue},
            )
        self._requests.setdefault(con_id, DepthRequest(qualified, venue))
        buffer: ConflatingBuffer[DepthBufferItem] = ConflatingBuffer(maximum_keys=4)
        try:
            await self._subscriptions.join(con_id, buffer)
        except BaseException:
            if con_id not in self._subscriptions:
                self._requests.pop(con_id, None)
            raise
        try:
            sent = self._current(con_id, rows)
            yield DepthSnapshot(qualified, sent)
            live = follow_buffer(buffer, self._monitor.markers(), heartbeat, self._clock)
            async with aclosing(live) as items:
                async for item in items:
                    if isinstance(item, SubscriptionEnded):
                        raise item.error
                    if isinstance(item, _BookChanged):
                        now = self._current(con_id, rows)
                        changes = _changes(sent, now)
                        sent = now
                        if changes is not None:
                            yield changes
                    else:
                        yield item
        finally:
            self._subscriptions.leave(con_id, buffer)

    def _current(self, con_id: int, rows: int) -> DepthBook:
        book = self._books.get(con_id)
        return book.top(rows) if book is not None else DepthBook((), (), self._clock())


def _too_many_books(limit: int) -> SubscriptionLimitError:
    return SubscriptionLimitError(
        f"market depth is held for {limit} contracts, IB's limit; close a depth stream first",
        limit="market_depth",
        description=f"at most {limit} contracts with market depth (IB error 309)",
        metadata={"limit": str(limit)},
    )


def _changes(before: DepthBook, after: DepthBook) -> DepthChanges | None:
    bids = _side_changes(before.bids, after.bids)
    asks = _side_changes(before.asks, after.asks)
    if not bids and not asks:
        return None
    return DepthChanges(bids, asks, after.receive_time)


def _side_changes(
    before: tuple[DepthLevel, ...], after: tuple[DepthLevel, ...]
) -> tuple[DepthLevel, ...]:
    """Each level that is new or different, then each level gone (size zero)."""
    old = {level.price: level for level in before}
    new = {level.price: level for level in after}
    changed = [level for level in after if old.get(level.price) != level]
    gone = [DepthLevel(price, Decimal(0)) for price in old if price not in new]
    return (*changed, *gone)
