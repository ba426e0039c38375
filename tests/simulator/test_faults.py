"""Fault injection: dropped and refused connections, delays, frozen prices, any notice
(connectivity and competing sessions: test_outages.py)."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from ib_async import IB, Contract, LimitOrder, Stock, Ticker

from ibkr_simulator import Simulator
from tests.simulator.support import connected, eventually


async def _streaming(ib: IB, symbol: str = "AAPL") -> Ticker:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Contract)
    ticker = ib.reqMktData(contract)
    await eventually(lambda: not math.isnan(ticker.bid))
    return ticker


def _codes(ib: IB) -> list[int]:
    seen: list[int] = []
    ib.errorEvent += lambda _request, code, _text, _contract: seen.append(code)
    return seen


async def test_drop_connections_disconnects_every_client(simulator: Simulator) -> None:
    async with connected(simulator, 1) as first, connected(simulator, 2) as second:
        disconnects: list[str] = []
        first.disconnectedEvent += lambda: disconnects.append("first")
        second.disconnectedEvent += lambda: disconnects.append("second")
        await simulator.drop_connections()
        await eventually(lambda: not first.isConnected() and not second.isConnected())
        assert sorted(set(disconnects)) == ["first", "second"]
        assert simulator.status().client_ids == ()
    async with connected(simulator, 1) as again:
        assert again.isConnected()


async def test_refused_connections_come_back_after_the_restart(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        await simulator.refuse_connections(0.3)
        await eventually(lambda: not ib.isConnected())
    assert not simulator.is_listening
    refused = IB()
    with pytest.raises(ConnectionRefusedError):
        await refused.connectAsync(simulator.host, simulator.port, clientId=1, timeout=1)
    await eventually(lambda: simulator.is_listening)
    async with connected(simulator) as ib:
        assert ib.isConnected()


async def test_delayed_responses_add_latency_to_each_request(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        simulator.delay_responses(0.3)
        started = time.monotonic()
        details = await asyncio.gather(
            ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD")),
            ib.reqContractDetailsAsync(Stock("MSFT", "SMART", "USD")),
            ib.reqCurrentTimeAsync(),
        )
        elapsed = time.monotonic() - started
        # Latency, not a queue: three requests together take one delay, not three.
        assert 0.3 <= elapsed < 0.6
        assert [len(found) for found in details[:2]] == [1, 1]
        simulator.delay_responses(0)
        started = time.monotonic()
        await ib.reqCurrentTimeAsync()
        assert time.monotonic() - started < 0.3


async def test_a_delay_can_hold_only_some_requests(simulator: Simulator) -> None:
    """Holding only placeOrder (message id 3): a contract lookup is answered at once, the order
    waits in the gateway's inbox, and dropping the connection then loses it, as a socket that
    dies with unread bytes does."""
    async with connected(simulator) as ib:
        simulator.delay_responses(30, frozenset({3}))
        started = time.monotonic()
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert time.monotonic() - started < 5
        assert isinstance(contract, Contract)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 100.0))
        await asyncio.sleep(0.3)  # time for the gateway to have read the order
        assert simulator.status().open_orders == 0
        await simulator.drop_connections()
        simulator.delay_responses(0)
        await eventually(lambda: not ib.isConnected())
    assert trade.orderStatus.status == "PendingSubmit"
    assert simulator.status().open_orders == 0


async def test_frozen_and_jumping_prices(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        ticker = await _streaming(ib, "NVDA")
        simulator.freeze_price("NVDA")
        frozen_bid = ticker.bid
        await simulator.step(30)
        await ib.reqCurrentTimeAsync()
        assert ticker.bid == frozen_bid
        before = simulator.quote("NVDA").midpoint
        simulator.jump_price("NVDA", -10.0)
        await eventually(lambda: ticker.last == pytest.approx(before * 0.9, abs=0.01))
        simulator.unfreeze_price("NVDA")
        jumped_bid = ticker.bid
        await simulator.step(30)
        await eventually(lambda: ticker.bid != jumped_bid)


async def test_any_notice_can_be_sent(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        codes = _codes(ib)
        simulator.send_error(2103, "Market data farm connection is broken:usfarm")
        await eventually(lambda: codes == [2103])
