"""IB's own client (ibapi 9.81, server version 157) decodes the option messages: the chain
rows of reqSecDefOptParams and tickOptionComputation with its tickAttrib (present from server
version 156, MIN_SERVER_VER_PRICE_BASED_VOLATILITY, in ibapi's decoder)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator

import pytest
from ibapi.contract import Contract

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.test_ibapi_client import RecordingApp
from tests.support.market_hours import TRADING_MORNING


class OptionRecordingApp(RecordingApp):
    """Also records the option chain rows and option computations."""

    def securityDefinitionOptionParameter(
        self,
        reqId: int,  # noqa: N803  ibapi's names
        exchange: str,
        underlyingConId: int,  # noqa: N803
        tradingClass: str,  # noqa: N803
        multiplier: str,
        expirations: set[str],
        strikes: set[float],
    ) -> None:
        self.events.put(("chain", (exchange, tradingClass, multiplier, expirations, strikes)))

    def securityDefinitionOptionParameterEnd(self, reqId: int) -> None:  # noqa: N803
        self.events.put(("chainEnd", (reqId,)))

    def tickOptionComputation(self, reqId: int, tickType: int, *values: object) -> None:  # noqa: N803
        self.events.put(("optionComputation", (tickType, *values)))


@pytest.fixture
def option_app() -> Iterator[RecordingApp]:
    """ibapi on its own thread against a simulator on another, as test_ibapi_client does."""
    ready: queue.Queue[tuple[str, int]] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)
        async with Simulator(config) as simulator:
            ready.put((simulator.host, simulator.port))
            await asyncio.to_thread(stop.wait)

    server = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    server.start()
    try:
        host, port = ready.get(timeout=10)
        app = OptionRecordingApp()
        app.connect(host, port, clientId=7)
        reader = threading.Thread(target=app.run, daemon=True)
        reader.start()
        try:
            yield app
        finally:
            app.disconnect()
            reader.join(timeout=5)
    finally:
        stop.set()
        server.join(timeout=10)


def test_ibapi_reads_the_chain_and_the_option_computations(option_app: RecordingApp) -> None:
    option_app.wait_for("nextValidId")
    option_app.reqSecDefOptParams(1, "AAPL", "", "STK", 265598)
    rows = []
    while True:
        event, arguments = option_app.events.get(timeout=5)
        if event == "chainEnd":
            break
        if event == "chain":
            rows.append(arguments)
    smart = next(row for row in rows if row[0] == "SMART")
    assert smart[1:3] == ("AAPL", "100")
    expirations, strikes = smart[3], smart[4]
    assert isinstance(expirations, set)
    assert "20260320" in expirations
    assert isinstance(strikes, set)
    assert 190.0 in strikes
    option = Contract()
    option.symbol, option.secType, option.exchange, option.currency = "AAPL", "OPT", "SMART", "USD"
    option.lastTradeDateOrContractMonth, option.strike, option.right = "20260320", 190.0, "C"
    option_app.reqMktData(
        2, option, "", snapshot=False, regulatorySnapshot=False, mktDataOptions=[]
    )
    _, attribute, implied_volatility, delta, price, *_ = option_app.wait_for(
        "optionComputation", lambda a: a[0] == 13
    )
    assert attribute == 0
    assert isinstance(implied_volatility, float)
    assert 0.2 < implied_volatility < 0.4
    assert isinstance(delta, float)
    assert 0.3 < delta < 0.7
    assert isinstance(price, float)
    assert price > 0
