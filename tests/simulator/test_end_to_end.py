"""A fresh ib_async script against `ibkr-grpc sim` started as a separate process.

The script below uses only ib_async and the documented control port, as a user's script would.
"""

from __future__ import annotations

import asyncio
import math
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Stock

from tests.simulator.support import eventually
from tests.support.market_hours import TRADING_MORNING_TEXT

COMMAND = Path(sys.executable).parent / "ibkr-grpc"
READY = re.compile(r"ready on (?P<host>[\d.]+):(?P<port>\d+) control [\d.]+:(?P<control>\d+)")


@dataclass(frozen=True)
class RunningSimulator:
    host: str
    port: int
    control_port: int


@pytest.fixture
async def simulator_process(tmp_path: Path) -> AsyncIterator[RunningSimulator]:
    log = (tmp_path / "simulator.log").open("w")
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        "sim",
        "--host=127.0.0.1",
        "--port=0",
        "--control-port=0",
        "--tick-rate=20",
        "--seed=7",
        "--accounts=DU7654321",
        f"--start-time={TRADING_MORNING_TEXT}",
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = READY.search(line)
        assert match, line
        yield RunningSimulator(match["host"], int(match["port"]), int(match["control"]))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 20)
        log.close()
        assert returncode == 0, (tmp_path / "simulator.log").read_text()


async def control(running: RunningSimulator, line: str) -> str:
    reader, writer = await asyncio.open_connection(running.host, running.control_port)
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_a_fresh_ib_async_script(simulator_process: RunningSimulator) -> None:
    ib = IB()
    ib.RequestTimeout = 5
    await ib.connectAsync(
        simulator_process.host, simulator_process.port, clientId=21, timeout=3, raiseSyncErrors=True
    )
    try:
        account = ib.managedAccounts()[0]
        assert account == "DU7654321"
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(aapl, Contract)

        ticker = ib.reqMktData(aapl)
        await eventually(lambda: not math.isnan(ticker.bid) and ticker.ask > ticker.bid)
        first_bid = ticker.bid
        await eventually(lambda: ticker.bid != first_bid)

        pnl = ib.reqPnL(account)
        await eventually(lambda: pnl.realizedPnL == 0.0)

        resting = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(ticker.bid * 0.8, 2)))
        await eventually(lambda: resting.orderStatus.status == "Submitted")
        ib.cancelOrder(resting.order)
        await eventually(lambda: resting.orderStatus.status == "Cancelled")

        market = ib.placeOrder(aapl, MarketOrder("BUY", 100))
        await eventually(lambda: market.orderStatus.status == "Filled")

        entry = round(ticker.ask + 1.0, 2)
        take_profit_price = round(entry + 20.0, 2)
        bracket = [
            ib.placeOrder(aapl, order)
            for order in ib.bracketOrder("BUY", 50, entry, take_profit_price, round(entry - 20, 2))
        ]
        await eventually(lambda: bracket[0].orderStatus.status == "Filled")
        await eventually(lambda: bracket[1].orderStatus.status == "Submitted")
        await eventually(lambda: [p.position for p in ib.positions()] == [150])

        assert (
            await control(simulator_process, f"set-price AAPL {take_profit_price + 1}")
        ).startswith("ok")
        await eventually(lambda: bracket[1].orderStatus.status == "Filled")
        await eventually(lambda: bracket[2].orderStatus.status == "Cancelled")
        await eventually(lambda: [p.position for p in ib.positions()] == [100])

        fills = ib.fills()
        assert len(fills) == 3
        await eventually(lambda: all(fill.commissionReport.commission > 0 for fill in ib.fills()))
        profit_fill = bracket[1].fills[0]
        assert profit_fill.commissionReport.realizedPNL > 900
        await eventually(
            lambda: pnl.realizedPnL == pytest.approx(profit_fill.commissionReport.realizedPNL)
        )
        await eventually(lambda: pnl.unrealizedPnL > 0)
    finally:
        ib.disconnect()


def test_help_documents_the_control_interface() -> None:
    result = subprocess.run(
        [COMMAND, "sim", "--help"], capture_output=True, text=True, check=True, timeout=30
    )
    assert "--control-port" in result.stdout
    assert "refuse-connections SECONDS" in result.stdout
    assert "--seed" in result.stdout


async def test_a_port_in_use_is_a_clean_failure(simulator_process: RunningSimulator) -> None:
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        "sim",
        f"--port={simulator_process.port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1
    assert b"cannot start the simulator" in stderr
