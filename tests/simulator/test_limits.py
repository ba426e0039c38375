"""IB's message-rate limit: the approaching notice, error 100, then a closed connection when
the excess continues."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB

from ibkr_simulator import Limits, Simulator, SimulatorConfig
from tests.simulator.support import LogCapture, connected, eventually
from tests.support.market_hours import TRADING_MORNING


def _codes(ib: IB) -> list[int]:
    seen: list[int] = []
    ib.errorEvent += lambda _request, code, _text, _contract: seen.append(code)
    return seen


async def test_message_rate_warns_then_disconnects() -> None:
    limits = Limits(messages_per_second=10, disconnect_rate_multiple=3.0)
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, limits=limits)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        codes = _codes(ib)
        # Turn off ib_async's own throttle (45/s) so the gateway sees the burst.
        ib.client.MaxRequests = 0
        for _ in range(15):
            ib.client.reqIds(1)  # type: ignore[no-untyped-call]  # untyped in ib_async
        # The notice first (code 0, at 95% of the limit), then 100 past it.
        await eventually(lambda: codes == [0, 100])
        assert ib.isConnected()
        await ib.reqCurrentTimeAsync()
        for _ in range(40):
            ib.client.reqIds(1)  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: not ib.isConnected())
        assert codes[-1] == 100


async def test_approaching_the_limit_gets_ibs_code_0_notice_first() -> None:
    # IB's message-code table does not list the notice. Published client code and logs show
    # code 0 with "Warning: Approaching max rate of 50 messages per second (%d)" (an IBrokers
    # R helper lists it among the info messages to ignore; a Java EWrapper tests
    # errorCode == 0 && errorMsg.contains("Warning: Approaching max rate of 50 messages per
    # second"); a C# client quotes the gateway's " Warning: Approaching max rate of 50
    # messages per second (48)" at a pace of 50 a second). At 48 of 50 in one second the
    # gateway warns once, and nothing else happens.
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        notices: list[tuple[int, int, str]] = []
        ib.errorEvent += lambda request, code, text, _contract: notices.append(
            (request, code, text)
        )
        await asyncio.sleep(1.1)  # the connection's own start-up burst is a second old
        ib.client.MaxRequests = 0
        for _ in range(48):
            ib.client.reqIds(1)  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: bool(notices))
        await ib.reqCurrentTimeAsync()
        assert notices == [(-1, 0, "Warning: Approaching max rate of 50 messages per second (48)")]
        assert ib.isConnected()


async def test_ib_async_own_throttle_stays_under_the_limit(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        codes = _codes(ib)
        for _ in range(60):
            ib.client.reqIds(1)  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: not ib.client._isThrottling)
        await ib.reqCurrentTimeAsync()
        assert 100 not in codes
        assert ib.isConnected()


async def test_a_client_that_cannot_keep_up_is_dropped(simulator_log: LogCapture) -> None:
    # The account download alone is a burst of about fifty messages: more than this queue holds.
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, outgoing_queue_size=30
    )
    async with Simulator(config) as simulator:
        ib = IB()
        with pytest.raises((ConnectionError, TimeoutError)):
            await ib.connectAsync(
                simulator.host, simulator.port, clientId=1, timeout=2, raiseSyncErrors=True
            )
        assert not ib.isConnected()
        warnings = [record.getMessage() for record in simulator_log.records]
        assert "client 1 is not reading; dropping the connection" in warnings
