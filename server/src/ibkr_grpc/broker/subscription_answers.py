"""IB's answer to a streaming subscription (market depth, tick-by-tick), which has no reply of
its own: IB either starts sending data or sends an error under the request id. IB answers a
connection's requests in order, so once a request sent after the subscription (the current
time) is answered, a refusal would have arrived: the subscription stands.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from ib_async import IB
from ib_async.wrapper import RequestError

from ibkr_grpc.broker.market_data import broker_error
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import GatewayUnavailableError, ServiceError, SubscriptionLimitError

# IB's refusals of a depth or tick-by-tick subscription for its limits
# (https://interactivebrokers.github.io/tws-api/message_codes.html): 309 "Max number (3) of
# market depth requests has been reached"; 10190 "Max number of tick-by-tick requests has been
# reached".
MARKET_DEPTH_LIMIT = 309
TICK_BY_TICK_LIMIT = 10190
LIMIT_CODES = {MARKET_DEPTH_LIMIT: "market_depth", TICK_BY_TICK_LIMIT: "tick_by_tick"}


def is_notice(code: int) -> bool:
    """Informational codes (farm status, warnings) that end nothing."""
    return 2100 <= code < 2200


def subscription_error(code: int, message: str, contract: ContractSpec) -> ServiceError:
    """IB's refusal of (or end to) a depth or tick-by-tick subscription, as a catalogue error."""
    limit = LIMIT_CODES.get(code)
    if limit is not None:
        return SubscriptionLimitError(
            f"IB refused the {limit.replace('_', ' ')} subscription of "
            f"{contract.display_name}: {message}",
            limit=limit,
            description=message,
            metadata={"ib_error_code": str(code), "symbol": contract.symbol},
        )
    return broker_error(RequestError(0, code, message), contract)


def not_connected() -> GatewayUnavailableError:
    return GatewayUnavailableError("not connected to IB Gateway", retry_after=timedelta(seconds=2))


class GatewayClock:
    """The gateway's own time (reqCurrentTime), with one request in flight at a time: ib_async
    keys the request by name, so a second one sent while the first is out would orphan it."""

    def __init__(self, ib: IB, *, timeout: float) -> None:
        self._ib = ib
        self._timeout = timeout
        self._round_trip: asyncio.Future[datetime] | None = None

    def round_trip(self) -> asyncio.Future[datetime]:
        """The answer to a current-time request: sent now, or the one already out."""
        if self._round_trip is None or self._round_trip.done():
            if not self._ib.isConnected():
                raise not_connected()
            self._round_trip = asyncio.ensure_future(self._ib.reqCurrentTimeAsync())
            self._round_trip.add_done_callback(_consume)
        return self._round_trip

    async def now(self) -> datetime | None:
        """The gateway's time in UTC; None when it does not answer in time."""
        try:
            async with asyncio.timeout(self._timeout):
                moment = await asyncio.shield(self.round_trip())
        except (TimeoutError, ConnectionError):
            return None
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class SubscriptionAnswers:
    """Futures for subscriptions waiting for IB's first word, resolved by the readers' event
    handlers, with a round trip to the gateway as the barrier behind them."""

    def __init__(self, clock: GatewayClock, *, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._waiting: dict[int, asyncio.Future[object]] = {}

    def expect(self, request_id: int) -> None:
        self._waiting[request_id] = asyncio.get_running_loop().create_future()

    def data(self, request_id: int) -> None:
        waiter = self._waiting.get(request_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def refused(self, request_id: int, error: ServiceError) -> bool:
        """Whether a subscription was waiting for this answer (it gets `error`)."""
        waiter = self._waiting.get(request_id)
        if waiter is None or waiter.done():
            return False
        waiter.set_exception(error)
        return True

    async def wait(self, request_id: int) -> None:
        """Return once IB sent data or answered a later request; raise what IB refused with."""
        waiter = self._waiting[request_id]
        try:
            barrier: asyncio.Future[object] = asyncio.shield(self._clock.round_trip())
            answered: set[asyncio.Future[object]] = {waiter, barrier}
            async with asyncio.timeout(self._timeout):
                await asyncio.wait(answered, return_when=asyncio.FIRST_COMPLETED)
            # An error read in the same packet as the barrier's answer has been handled.
            await asyncio.sleep(0)
        except TimeoutError:
            pass  # no refusal in all that time: the subscription stands
        finally:
            del self._waiting[request_id]
        if waiter.done():
            waiter.result()
        else:
            waiter.cancel()


def _consume(future: asyncio.Future[datetime]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        future.result()
