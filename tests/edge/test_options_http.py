"""Options and futures over HTTP/JSON through Envoy's transcoder: the routes key a derivative by
query fields (or con_id), never by the symbol alone, and the chain stream is NDJSON."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tests.edge.conftest import Edge
from tests.edge.web import Response, request

AAPL_CALL = (
    "contract.security_type=SECURITY_TYPE_OPTION"
    "&contract.last_trade_date_or_contract_month=20260320"
    "&contract.strike=190&contract.right=OPTION_RIGHT_CALL"
)


async def api(edge: Edge, method: str, path: str, **options: Any) -> Response:
    return await request(edge.base_url, method, path, headers=edge.authorization, **options)


@asynccontextmanager
async def posted_stream(edge: Edge, path: str, body: object) -> AsyncIterator[Any]:
    """POST `body` to a streaming route; yields a reader of its newline-delimited JSON."""
    parts = urlsplit(edge.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)

    def open_stream() -> http.client.HTTPResponse:
        headers = edge.authorization | {"content-type": "application/json"}
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        return connection.getresponse()

    response = await asyncio.to_thread(open_stream)

    async def next_json() -> Any:
        line = await asyncio.to_thread(response.readline)
        assert line, "the stream ended"
        return json.loads(line)

    try:
        assert response.status == 200, response.status
        yield next_json
    finally:
        connection.close()


async def test_option_chain_by_query_fields(edge: Edge) -> None:
    response = await api(
        edge,
        "GET",
        "/v1/option-chains?underlying.symbol=AAPL&underlying.security_type=SECURITY_TYPE_STOCK"
        "&exchange=SMART",
    )
    assert response.status == 200, response
    body = response.json()
    assert body["underlying"]["con_id"] == "265598", "int64 prints as a JSON string"
    [smart] = body["chains"]
    assert (smart["exchange"], smart["trading_class"], smart["multiplier"]) == (
        "SMART",
        "AAPL",
        "100",
    )
    assert "20260320" in smart["expirations"]
    assert "190" in smart["strikes"]


async def test_an_option_quote_and_details_by_query_fields(edge: Edge) -> None:
    quote = await api(edge, "GET", f"/v1/contracts/AAPL/quote?{AAPL_CALL}")
    assert quote.status == 200, quote
    body = quote.json()["quote"]
    assert body["contract"]["local_symbol"] == "AAPL  260320C00190000"
    assert body["contract"]["multiplier"] == "100"
    assert 0 < Decimal(body["greeks"]["delta"]) < 1
    assert Decimal(body["greeks"]["implied_volatility"]) > 0
    con_id = body["contract"]["con_id"]
    by_id = await api(
        edge,
        "GET",
        f"/v1/contracts/AAPL/details?contract.con_id={con_id}"
        "&contract.security_type=SECURITY_TYPE_OPTION",
    )
    assert by_id.status == 200, by_id
    [details] = by_id.json()["details"]
    assert details["contract"]["strike"] == "190"
    assert details["contract"]["right"] == "OPTION_RIGHT_CALL"
    # The symbol alone is the stock: an option route without its terms is refused, naming them.
    bare = await api(
        edge, "GET", "/v1/contracts/AAPL/quote?contract.security_type=SECURITY_TYPE_OPTION"
    )
    assert bare.status == 400, bare
    violations = next(
        detail["field_violations"]
        for detail in bare.json()["details"]
        if "field_violations" in detail
    )
    assert {violation["field"] for violation in violations} == {
        "contract.last_trade_date_or_contract_month",
        "contract.strike",
        "contract.right",
    }


async def test_the_front_month_and_continuous_history(edge: Edge) -> None:
    continuous = "contract.security_type=SECURITY_TYPE_CONTINUOUS_FUTURE&contract.exchange=CME"
    details = await api(edge, "GET", f"/v1/contracts/ES/details?{continuous}")
    assert details.status == 200, details
    [front] = details.json()["details"]
    assert front["contract"]["security_type"] == "SECURITY_TYPE_FUTURE"
    assert front["contract"]["local_symbol"] == "ESH6"
    assert front["contract"]["multiplier"] == "50"
    bars = await api(
        edge,
        "GET",
        f"/v1/contracts/ES/bars?{continuous}&bar_size=BAR_SIZE_1_MINUTE"
        "&span.count=1800&span.unit=SPAN_UNIT_SECONDS",
    )
    assert bars.status == 200, bars
    assert bars.json()["bars"]
    quote = await api(
        edge,
        "GET",
        f"/v1/contracts/ES/quote?contract.con_id={front['contract']['con_id']}"
        "&contract.security_type=SECURITY_TYPE_FUTURE",
    )
    assert quote.status == 200, quote
    assert quote.json()["quote"]["contract"]["last_trade_date_or_contract_month"] == "20260320"


async def test_the_chain_stream_is_newline_delimited_json(edge: Edge) -> None:
    body = {
        "underlying": {"symbol": "AAPL", "security_type": "SECURITY_TYPE_STOCK"},
        "expiration": "20260320",
        "strikes_per_side": 1,
        "heartbeat_interval": "1s",
    }
    async with posted_stream(edge, "/v1/option-chains:stream", body) as next_json:
        first = await next_json()
        window = first["window"]
        assert len(window["strikes"]) == 3
        assert window["at_the_money_strike"] == window["strikes"][1]["strike"]
        call = window["strikes"][1]["call"]
        assert call["security_type"] == "SECURITY_TYPE_OPTION"
        await edge.server.simulator.step()
        seen = set()
        for _ in range(50):
            message = await next_json()
            if "quote" in message:
                seen.add(message["quote"]["contract"]["con_id"])
            if call["con_id"] in seen:
                break
        assert call["con_id"] in seen
