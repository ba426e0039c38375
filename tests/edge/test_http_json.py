"""HTTP/JSON through Envoy's transcoder, in front of the real server and simulated gateway."""

from __future__ import annotations

from typing import Any

from tests.edge.conftest import ALLOWED_ORIGIN, Edge
from tests.edge.web import Response, request, stream
from tests.server.conftest import ACCOUNT

STOCK = "contract.security_type=SECURITY_TYPE_STOCK"


async def api(
    edge: Edge, method: str, path: str, *, headers: dict[str, str] | None = None, **options: Any
) -> Response:
    """A request with an admin's bearer token (and any other `headers`)."""
    return await request(
        edge.base_url, method, path, headers=edge.authorization | (headers or {}), **options
    )


def limit_order(client_order_id: str, **changes: object) -> dict[str, object]:
    order: dict[str, object] = {
        "account": ACCOUNT,
        "client_order_id": client_order_id,
        "contract": {"symbol": "AAPL", "security_type": "SECURITY_TYPE_STOCK"},
        "side": "SIDE_BUY",
        "quantity": "10",
        "order_type": "ORDER_TYPE_LIMIT",
        "limit_price": "150.00",
    }
    return order | changes


async def place_order(edge: Edge, client_order_id: str) -> dict[str, Any]:
    response = await api(edge, "POST", "/v1/orders", json_body=limit_order(client_order_id))
    assert response.status == 200, response
    order: dict[str, Any] = response.json()["order"]
    return order


async def test_place_order_takes_a_json_body_and_answers_in_proto_field_names(
    edge: Edge,
) -> None:
    response = await api(
        edge,
        "POST",
        "/v1/orders",
        json_body=limit_order("edge-place-1"),
        headers={"x-request-id": "edge-test-request-1"},
    )
    assert response.status == 200, response
    assert response.header("content-type") == "application/json"
    assert response.header("x-request-id") == "edge-test-request-1", "the client's id is kept"
    order = response.json()["order"]
    assert order["client_order_id"] == "edge-place-1"
    assert order["account"] == ACCOUNT
    assert order["contract"]["symbol"] == "AAPL"
    assert order["side"] == "SIDE_BUY", "enums print as names"
    assert order["quantity"] == "10"
    assert order["limit_price"] == "150"
    assert order["status"] in {"ORDER_STATUS_PENDING_SUBMIT", "ORDER_STATUS_SUBMITTED"}
    # Every field is printed, unset ones too, so a response always has the same shape.
    assert order["stop_price"] == ""
    assert order["outside_regular_hours"] is False
    assert order["child_order_ids"] == []

    read_back = await api(edge, "GET", f"/v1/orders/{order['order_id']}")
    assert read_back.status == 200
    assert read_back.json()["order"]["client_order_id"] == "edge-place-1"


async def test_every_get_route_answers_json(edge: Edge) -> None:
    order = await place_order(edge, "edge-routes-1")
    routes = {
        "/v1/orders": "orders",
        "/v1/orders?statuses=ORDER_STATUS_SUBMITTED&statuses=ORDER_STATUS_PENDING_SUBMIT"
        f"&account={ACCOUNT}&symbol=AAPL&page_size=20": "orders",
        f"/v1/orders/{order['order_id']}": "order",
        "/v1/fills?page_size=5": "fills",
        "/v1/accounts": "accounts",
        f"/v1/accounts/{ACCOUNT}/summary": "summary",
        "/v1/positions": "positions",
        f"/v1/accounts/{ACCOUNT}/pnl": "pnl",
        "/v1/contracts:search?query=AAP": "contracts",
        f"/v1/contracts/AAPL/details?{STOCK}": "details",
        f"/v1/contracts/AAPL/quote?{STOCK}": "quote",
        f"/v1/contracts/AAPL/bars?{STOCK}&bar_size=BAR_SIZE_1_MINUTE"
        "&span.count=1&span.unit=SPAN_UNIT_DAYS": "bars",
        "/v1/gateway/status": "status",
    }
    for path, key in routes.items():
        response = await api(edge, "GET", path)
        assert response.status == 200, (path, response)
        assert response.header("content-type") == "application/json", path
        assert key in response.json(), (path, response.body)

    listed = (await api(edge, "GET", "/v1/orders")).json()["orders"]
    assert [entry["order_id"] for entry in listed] == [order["order_id"]]
    contracts = (await api(edge, "GET", "/v1/contracts:search?query=AAP")).json()
    assert "AAPL" in [entry["contract"]["symbol"] for entry in contracts["contracts"]]
    quote = (await api(edge, "GET", f"/v1/contracts/AAPL/quote?{STOCK}")).json()
    assert quote["quote"]["contract"]["con_id"] == "265598", "int64 prints as a JSON string"
    status = (await api(edge, "GET", "/v1/gateway/status")).json()
    assert status["status"]["state"] == "CONNECTION_STATE_READY"


async def test_server_streams_arrive_as_newline_delimited_json_message_by_message(
    edge: Edge,
) -> None:
    async with stream(
        edge.base_url,
        "/v1/gateway/status:stream?heartbeat_interval=1s",
        headers=edge.authorization,
    ) as status:
        assert status.status == 200
        assert status.headers["content-type"] == "application/json"
        first = await status.next_json()
        assert first["status"]["state"] == "CONNECTION_STATE_READY"
        # The next line is the heartbeat a second later: read while the stream is still open.
        second = await status.next_json()
        assert "server_time" in second["heartbeat"]

    async with stream(
        edge.base_url, "/v1/orders:streamEvents?heartbeat_interval=1s", headers=edge.authorization
    ) as events:
        marker = await events.next_json()
        assert marker["marker"]["type"] == "STREAM_MARKER_TYPE_REPLAY_COMPLETE"
        order = await place_order(edge, "edge-stream-1")
        event = await events.next_json()
        while "heartbeat" in event:
            event = await events.next_json()
        assert event["order_event"]["type"] == "ORDER_EVENT_TYPE_CREATED", event
        assert event["order_event"]["order"]["order_id"] == order["order_id"]
        assert int(event["order_event"]["sequence"]) > 0


async def test_grpc_errors_become_http_statuses_with_the_status_as_json(edge: Edge) -> None:
    invalid = await api(
        edge,
        "POST",
        "/v1/orders",
        json_body=limit_order("edge-bad-1", quantity="-10", limit_price=""),
    )
    assert invalid.status == 400, invalid
    assert invalid.header("content-type") == "application/json"
    body = invalid.json()
    assert body["code"] == 3  # INVALID_ARGUMENT
    assert "quantity" in body["message"]
    details = {detail["@type"].rsplit("/", 1)[-1]: detail for detail in body["details"]}
    assert details["google.rpc.ErrorInfo"]["reason"] == "VALIDATION_ERROR"
    assert details["google.rpc.ErrorInfo"]["domain"] == "ibkr.v1"
    violations = details["google.rpc.BadRequest"]["field_violations"]
    assert {violation["field"] for violation in violations} == {"quantity", "limit_price"}

    anonymous = await request(edge.base_url, "GET", "/v1/orders")
    assert anonymous.status == 401, anonymous
    assert anonymous.json()["code"] == 16  # UNAUTHENTICATED
    assert anonymous.json()["details"][0]["reason"] == "AUTHENTICATION_FAILED"

    missing = await api(edge, "GET", "/v1/orders/ord_does_not_exist")
    assert missing.status == 404, missing
    body = missing.json()
    assert body["code"] == 5  # NOT_FOUND
    assert body["details"][0]["reason"] == "ORDER_NOT_FOUND"
    assert body["details"][0]["metadata"] == {"order_id": "ord_does_not_exist"}


async def test_envoy_rejects_what_no_route_declares_before_the_server_sees_it(
    edge: Edge,
) -> None:
    not_json = await api(edge, "POST", "/v1/orders", raw_body=b"{not json")
    assert not_json.status == 400
    wrong_type = await api(edge, "POST", "/v1/orders", json_body={"quantity": 5})
    assert wrong_type.status == 400
    assert b"quantity" in wrong_type.body

    unknown_path = await api(edge, "GET", "/v1/orders/x/y/z")
    assert unknown_path.status == 404, unknown_path
    unknown_method = await api(edge, "DELETE", "/v1/orders")
    assert unknown_method.status == 404, unknown_method

    unknown_parameter = await api(edge, "GET", "/v1/orders?colour=red")
    assert unknown_parameter.status == 400, unknown_parameter
    assert b"colour" in unknown_parameter.body

    # None of them reached PlaceOrder: no order exists.
    listed = (await api(edge, "GET", "/v1/orders")).json()
    assert listed["orders"] == []


async def test_cors_headers_on_an_actual_response_from_an_allowed_origin(edge: Edge) -> None:
    response = await api(edge, "GET", "/v1/gateway/status", headers={"origin": ALLOWED_ORIGIN})
    assert response.status == 200
    assert response.header("access-control-allow-origin") == ALLOWED_ORIGIN
    exposed = response.header("access-control-expose-headers") or ""
    assert "grpc-status-details-bin" in exposed
    assert "x-request-id" in exposed
