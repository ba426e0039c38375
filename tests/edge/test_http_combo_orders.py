"""A multi-leg (iron condor) order over HTTP/JSON through Envoy's transcoder: POST /v1/orders
with legs, then the order, its per-leg fills and the four option positions read back as JSON.
(IB's combination legs are by conId, ratio and action:
https://interactivebrokers.github.io/tws-api/spread_contracts.html.)"""

from __future__ import annotations

from typing import Any

from tests.edge.conftest import Edge
from tests.edge.test_http_json import api
from tests.server.conftest import ACCOUNT
from tests.server.test_combo_orders import CONDOR, condor_ask, option_con_id
from tests.support.waiting import eventually

SIDES = {1: "SIDE_BUY", 2: "SIDE_SELL"}


async def test_an_iron_condor_is_placed_filled_and_held_over_http_json(edge: Edge) -> None:
    simulator = edge.server.simulator
    simulator.set_price("AAPL", 190.0)
    limit = f"{condor_ask(simulator):.2f}"
    body = {
        "account": ACCOUNT,
        "client_order_id": "http-condor-1",
        "side": "SIDE_BUY",
        "quantity": "1",
        "order_type": "ORDER_TYPE_LIMIT",
        "limit_price": limit,
        "legs": [
            {
                "contract": {"con_id": str(option_con_id(simulator, strike, right))},
                "side": SIDES[side],
                "ratio": 1,
            }
            for strike, right, side in CONDOR
        ],
    }
    response = await api(edge, "POST", "/v1/orders", json_body=body)
    assert response.status == 200, response
    order: dict[str, Any] = response.json()["order"]
    assert order["limit_price"] == limit
    assert [leg["side"] for leg in order["legs"]] == [
        "SIDE_BUY",
        "SIDE_SELL",
        "SIDE_SELL",
        "SIDE_BUY",
    ]
    again = await api(edge, "POST", "/v1/orders", json_body=body)
    assert again.json()["order"]["order_id"] == order["order_id"], "idempotent on the key"

    async def filled() -> bool:
        current = await api(edge, "GET", f"/v1/orders/{order['order_id']}")
        return bool(current.json()["order"]["status"] == "ORDER_STATUS_FILLED")

    await eventually(filled)
    fills = await api(edge, "GET", f"/v1/fills?order_id={order['order_id']}")
    assert len(fills.json()["fills"]) == 4
    expected = {
        str(option_con_id(simulator, strike, right)): "1" if side == 1 else "-1"
        for strike, right, side in CONDOR
    }

    async def held() -> bool:
        positions = await api(edge, "GET", f"/v1/positions?account={ACCOUNT}")
        options = {
            p["contract"]["con_id"]: p["quantity"]
            for p in positions.json().get("positions", [])
            if p["contract"].get("security_type") == "SECURITY_TYPE_OPTION"
        }
        return options == expected

    await eventually(held)
