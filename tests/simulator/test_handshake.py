"""Handshake and session: version negotiation, startApi, greetings, client ids."""

from __future__ import annotations

import asyncio
import logging
import struct
import time

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Stock

from ibkr_simulator import Simulator
from tests.simulator.support import LogCapture, connected, eventually


async def test_connects_with_startup_sync_in_well_under_a_second(simulator: Simulator) -> None:
    notices: list[int] = []
    ib = IB()
    ib.errorEvent += lambda _request, code, _text, _contract: notices.append(code)
    started = time.monotonic()
    await ib.connectAsync(
        simulator.host, simulator.port, clientId=7, timeout=3, raiseSyncErrors=True
    )
    elapsed = time.monotonic() - started
    try:
        assert elapsed < 1.0
        assert ib.isConnected()
        assert ib.client.serverVersion() == 178
        assert ib.managedAccounts() == ["DU1234567"]
        assert {2104, 2106, 2158} <= set(notices)
        assert ib.client.getReqId() >= 1
        now = await ib.reqCurrentTimeAsync()
        assert now.tzinfo is not None
    finally:
        ib.disconnect()


async def test_client_zero_binds_open_orders(simulator: Simulator) -> None:
    async with connected(simulator, client_id=0) as ib:
        assert ib.isConnected()


async def test_several_clients_connect_with_distinct_ids(simulator: Simulator) -> None:
    async with connected(simulator, 1) as first, connected(simulator, 2) as second:
        assert first.isConnected()
        assert second.isConnected()
        assert simulator.status().client_ids == (1, 2)


async def test_a_client_id_in_use_gets_error_326_and_is_closed(simulator: Simulator) -> None:
    async with connected(simulator, 5):
        codes: list[int] = []
        duplicate = IB()
        duplicate.errorEvent += lambda _request, code, _text, _contract: codes.append(code)
        with pytest.raises(TimeoutError):
            await duplicate.connectAsync(simulator.host, simulator.port, clientId=5, timeout=1)
        assert codes == [326]
        assert not duplicate.isConnected()
        assert simulator.status().client_ids == (5,)


async def _handshake_reply(simulator: Simulator, versions: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(simulator.host, simulator.port)
    writer.write(b"API\0" + struct.pack(">I", len(versions)) + versions)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 3)
    writer.close()
    await writer.wait_closed()
    return reply


async def test_an_unservable_version_range_is_refused_by_closing(simulator: Simulator) -> None:
    assert await _handshake_reply(simulator, b"v100..151") == b""
    assert await _handshake_reply(simulator, b"v201..210") == b""


async def test_the_answer_is_the_lower_of_the_client_maximum_and_178(simulator: Simulator) -> None:
    reader, writer = await asyncio.open_connection(simulator.host, simulator.port)
    versions = b"v100..165 +PACEAPI"
    writer.write(b"API\0" + struct.pack(">I", len(versions)) + versions)
    await writer.drain()
    (length,) = struct.unpack(">I", await reader.readexactly(4))
    fields = (await reader.readexactly(length)).split(b"\0")
    writer.close()
    await writer.wait_closed()
    assert fields[0] == b"165"
    assert fields[1].endswith(b" UTC")


@pytest.mark.parametrize("maximum_version", [157, 165, 176])
async def test_older_protocol_versions_trade_end_to_end(
    simulator: Simulator, maximum_version: int
) -> None:
    ib = IB()
    ib.RequestTimeout = 5
    ib.client.MaxClientVersion = maximum_version
    await ib.connectAsync(
        simulator.host, simulator.port, clientId=3, timeout=3, raiseSyncErrors=True
    )
    try:
        assert ib.client.serverVersion() == maximum_version
        [contract] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        assert isinstance(contract, Contract)
        assert contract.conId == 272093
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10))
        await eventually(lambda: trade.isDone() and trade.fills)
        assert trade.orderStatus.status == "Filled"
        resting = ib.placeOrder(contract, LimitOrder("BUY", 1, 100.0))
        await eventually(lambda: resting.orderStatus.status == "Submitted")
        await ib.reqCompletedOrdersAsync(apiOnly=False)
        assert [t.order.permId for t in ib.trades() if t.isDone()] != []
    finally:
        ib.disconnect()


def test_the_log_watch_catches_decoder_complaints(ib_async_log: LogCapture) -> None:
    logging.getLogger("ib_async.Decoder").error("Error handling fields: ['1', '6']")
    assert ib_async_log.complaints() == ["Error handling fields: ['1', '6']"]
    ib_async_log.records.clear()


async def test_garbage_is_dropped_without_harming_other_clients(simulator: Simulator) -> None:
    reader, writer = await asyncio.open_connection(simulator.host, simulator.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    await writer.wait_closed()
    async with connected(simulator) as ib:
        assert ib.isConnected()


async def test_an_unsupported_request_gets_error_321_and_the_session_goes_on(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        codes: list[int] = []
        ib.errorEvent += lambda _request, code, _text, _contract: codes.append(code)
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(contract, Contract)
        # Fundamental data (reqFundamentalData) is one of the requests the simulator does not serve.
        ib.client.reqFundamentalData(ib.client.getReqId(), contract, "ReportSnapshot", [])  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: codes == [321])
        assert await ib.reqCurrentTimeAsync()
