"""A container health check for IB Gateway itself: an API handshake that yields nextValidId.
A TCP check is not enough: the gateway image's socat relay accepts connections even when
the gateway behind it is down."""

from __future__ import annotations

import asyncio

from ib_async import IB


async def gateway_answers(host: str, port: int, *, client_id: int, seconds: float) -> bool:
    ib = IB()
    try:
        async with asyncio.timeout(seconds):
            await ib.client.connectAsync(host, port, client_id, seconds)  # type: ignore[no-untyped-call]
            return ib.client.isReady()
    except (TimeoutError, OSError, ConnectionError):
        return False
    finally:
        ib.disconnect()
