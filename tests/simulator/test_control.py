"""The line-based control port: each fault and price command, as an external process would send it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ib_async import Contract, LimitOrder, MarketOrder, Stock

from ibkr_simulator import Simulator
from ibkr_simulator.control import ControlServer
from tests.simulator.support import connected, eventually


class ControlClient:
    """Sends one command line and reads one answer line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, line: str) -> str:
        self._writer.write(line.encode() + b"\n")
        await self._writer.drain()
        answer = await asyncio.wait_for(self._reader.readline(), 5)
        return answer.decode().rstrip("\n")


@pytest.fixture
async def control(simulator: Simulator) -> AsyncIterator[ControlClient]:
    server = ControlServer(simulator, "127.0.0.1", 0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield ControlClient(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()
        await server.stop()
        await server.stop()


async def test_prices_and_status_through_the_control_port(
    simulator: Simulator, control: ControlClient
) -> None:
    assert (await control.send("set-price AAPL 150")).startswith("ok bid=149.99 ask=150.01")
    volume = f"{simulator.quote('AAPL').volume:g}"
    assert (
        await control.send("quote AAPL") == f"ok bid=149.99 ask=150.01 last=150.0 volume={volume}"
    )
    assert (await control.send("jump-price AAPL 10")).startswith("ok bid=164.99")
    assert await control.send("freeze AAPL") == "ok frozen"
    assert await control.send("step 5") == "ok stepped 5"
    assert simulator.quote("AAPL").bid == 164.99
    assert await control.send("unfreeze AAPL") == "ok unfrozen"
    async with connected(simulator, 4):
        status = await control.send("status")
    assert status.startswith(f"ok listening=1 port={simulator.port} clients=4 connected_to_ib=1")
    assert (await control.send("help")).startswith("ok Control commands")


async def test_faults_through_the_control_port(
    simulator: Simulator, control: ControlClient
) -> None:
    async with connected(simulator) as ib:
        codes: list[int] = []
        ib.errorEvent += lambda _request, code, _text, _contract: codes.append(code)
        assert await control.send("connectivity-lost") == "ok sent 1100"
        assert await control.send("connectivity-restored data-lost") == "ok sent 1101"
        assert await control.send("send-error 2105 HMDS data farm connection is broken") == (
            "ok sent 2105"
        )
        await eventually(lambda: codes == [1100, 1101, 2105])
        assert await control.send("reject-next-order No trading permissions") == (
            "ok next order will be rejected"
        )
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(contract, Contract)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
        await eventually(trade.isDone)
        assert trade.orderStatus.status == "Cancelled"
        assert "No trading permissions" in trade.log[-1].message
        assert await control.send("delay-responses 0") == "ok delaying responses by 0 s"
        assert await control.send("expire-day-orders") == "ok day orders expired"
        assert await control.send("drop-connections") == "ok dropped"
        await eventually(lambda: not ib.isConnected())
    assert await control.send("refuse-connections 0.2") == "ok refusing connections for 0.2 s"
    await eventually(lambda: simulator.is_listening)


async def test_outages_through_the_control_port(
    simulator: Simulator, control: ControlClient
) -> None:
    async with connected(simulator) as ib:
        errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda request, code, _text, _contract: errors.append((request, code))
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(contract, Contract)
        assert await control.send("competing-session start") == (
            "ok competing session started: market data requests get 10197"
        )
        assert "competing_session=1" in await control.send("status")
        ib.reqMktData(contract)
        await eventually(lambda: [code for _, code in errors] == [10197])
        assert await control.send("competing-session stop") == "ok competing session ended"
        assert await control.send("competing-session later") == (
            "error usage: competing-session start|stop"
        )
        simulator.set_price("AAPL", 150.0)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 149.0))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        assert await control.send("connectivity-lost") == "ok sent 1100"
        assert (await control.send("set-price AAPL 148")).startswith("ok bid=")
        status = await control.send("status")
        assert "connected_to_ib=0 competing_session=0 held_order_reports=" in status
        assert "held_order_reports=0" not in status
        assert await control.send("connectivity-restored") == "ok sent 1102"
        await eventually(lambda: trade.orderStatus.status == "Filled")


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("", "error empty command"),
        ("launch-rockets", "error unknown command 'launch-rockets' (try help)"),
        ("set-price AAPL", "error usage: set-price SYMBOL PRICE"),
        ("set-price AAPL cheap", "error not a number: 'cheap'"),
        ("set-price NOSUCH 1", "error \"unknown symbol 'NOSUCH'\""),
        ("set-price AAPL -1", "error a price must be positive"),
    ],
)
async def test_bad_commands_get_an_error_line(
    control: ControlClient, line: str, answer: str
) -> None:
    assert await control.send(line) == answer
