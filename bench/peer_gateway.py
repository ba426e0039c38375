"""The peer StreamQuotes is measured against: the design it replaces, at its best. A FastAPI
app on uvicorn (uvloop, httptools) with one IB connection (ib_async), one market-data line per
contract shared by every client, and JSON ticker updates over WebSocket, each client with a
bounded latest-value buffer (one entry per contract, newest wins, longest-waiting sent first).

    build/bench-venv/bin/python bench/peer_gateway.py --ib-port 4002 --port 8765

Clients connect to ws://127.0.0.1:PORT/quotes?symbols=AAPL,MSFT. It runs in the benchmark's
own venv (bench/requirements-peer.txt), never in the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from ib_async import IB, Contract, Stock, Ticker


class Client:
    """One WebSocket client's bounded buffer: at most one pending update per contract."""

    def __init__(self) -> None:
        self.pending: dict[int, str] = {}
        self.ready = asyncio.Event()

    def offer(self, con_id: int, payload: str) -> None:
        # Replacing a key keeps its place in the dict: the contract waiting longest goes first.
        self.pending[con_id] = payload
        self.ready.set()

    async def send_forever(self, websocket: WebSocket) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.pending:
                con_id = next(iter(self.pending))
                await websocket.send_text(self.pending.pop(con_id))


def number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def encode(ticker: Ticker) -> str:
    contract = ticker.contract
    return json.dumps(
        {
            "symbol": contract.symbol if contract else "",
            "con_id": contract.conId if contract else 0,
            "bid": number(ticker.bid),
            "bid_size": number(ticker.bidSize),
            "ask": number(ticker.ask),
            "ask_size": number(ticker.askSize),
            "last": number(ticker.last),
            "last_size": number(ticker.lastSize),
            "volume": number(ticker.volume),
            "exchange_time": ticker.rtTime.timestamp() if ticker.rtTime else None,
        },
        separators=(",", ":"),
    )


class Relay:
    """One IB connection; one line per contract while any client watches it."""

    def __init__(self, ib: IB) -> None:
        self.ib = ib
        self.contracts: dict[str, asyncio.Future[Contract]] = {}
        self.watchers: dict[int, set[Client]] = {}
        self.tickers: dict[int, Ticker] = {}
        ib.pendingTickersEvent += self.relay

    def relay(self, tickers: set[Ticker]) -> None:
        for ticker in tickers:
            con_id = ticker.contract.conId if ticker.contract else 0
            watchers = self.watchers.get(con_id)
            if watchers:
                payload = encode(ticker)  # once for every client
                for client in watchers:
                    client.offer(con_id, payload)

    async def contract(self, symbol: str) -> Contract:
        # Identical lookups share one request, so a thousand clients cost one per contract.
        if symbol not in self.contracts:
            self.contracts[symbol] = asyncio.ensure_future(self._qualify(symbol))
        return await asyncio.shield(self.contracts[symbol])

    async def _qualify(self, symbol: str) -> Contract:
        contract = Stock(symbol, "SMART", "USD")
        await self.ib.qualifyContractsAsync(contract)
        return contract

    async def watch(self, client: Client, symbols: list[str]) -> list[int]:
        con_ids = []
        for symbol in symbols:
            contract = await self.contract(symbol)
            watchers = self.watchers.setdefault(contract.conId, set())
            if not watchers:
                self.tickers[contract.conId] = self.ib.reqMktData(contract, "233")
            watchers.add(client)
            con_ids.append(contract.conId)
        return con_ids

    def unwatch(self, client: Client, con_ids: list[int]) -> None:
        for con_id in con_ids:
            watchers = self.watchers.get(con_id, set())
            watchers.discard(client)
            contract = self.tickers.pop(con_id).contract if not watchers else None
            if contract is not None:
                self.ib.cancelMktData(contract)
                self.watchers.pop(con_id, None)


def build_app(ib_port: int, client_id: int) -> FastAPI:
    relays: list[Relay] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ib = IB()
        await ib.connectAsync("127.0.0.1", ib_port, clientId=client_id, timeout=10)
        relays.append(Relay(ib))
        try:
            yield
        finally:
            ib.disconnect()

    async def quotes(websocket: WebSocket) -> None:
        relay = relays[0]
        symbols = [s for s in websocket.query_params.get("symbols", "").split(",") if s]
        await websocket.accept()
        client = Client()
        con_ids: list[int] = []
        sender = asyncio.create_task(client.send_forever(websocket))
        try:
            con_ids = await relay.watch(client, symbols)
            while True:  # until the client goes away
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            relay.unwatch(client, con_ids)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    app = FastAPI(lifespan=lifespan)
    # Registered without the decorator: FastAPI is not installed where mypy runs, and an
    # untyped decorator would make the endpoint untyped.
    route: Callable[..., Any] = app.add_api_websocket_route
    route("/quotes", quotes)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ib-port", type=int, required=True)
    parser.add_argument("--client-id", type=int, default=6)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    uvicorn.run(
        build_app(options.ib_port, options.client_id),
        host="127.0.0.1",
        port=options.port,
        loop="uvloop",
        http="httptools",
        ws="websockets",
        # Compression costs CPU on both sides and gRPC sends uncompressed: off, as the fastest.
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
