"""Bad input through Envoy gets an HTTP error status with the catalogue error, never a 5xx, a
dropped connection, or a 200 with the error in its body (issue #14)."""

from __future__ import annotations

import struct

from ibkr.v1 import common_pb2, order_service_pb2
from tests.edge.conftest import Edge
from tests.edge.test_http_json import api, limit_order
from tests.edge.web import request, stream


async def test_a_path_that_is_not_utf8_is_a_bad_request(edge: Edge) -> None:
    response = await api(edge, "GET", "/v1/orders/%ff%fe")
    assert response.status == 400, response
    body = response.json()
    assert body["code"] == 3  # INVALID_ARGUMENT
    assert body["details"][0]["reason"] == "VALIDATION_ERROR"


async def test_a_stream_without_a_token_is_401_not_200(edge: Edge) -> None:
    async with stream(edge.base_url, "/v1/gateway/status:stream") as status:
        assert status.status == 401
        assert status.headers["x-request-id"]


async def test_a_stream_with_a_bad_request_is_400_not_200(edge: Edge) -> None:
    for path in (
        "/v1/orders:streamEvents?after_sequence=-1",
        "/v1/gateway/status:stream?heartbeat_interval=4611686018427387904s",
        "/v1/gateway/status:stream?heartbeat_interval=0.5s",
    ):
        async with stream(edge.base_url, path, headers=edge.authorization) as refused:
            assert refused.status == 400, path


async def test_a_huge_value_comes_back_as_a_bounded_400_over_http(edge: Edge) -> None:
    order = limit_order("edge-huge-1", quantity="9" * 20_000)
    response = await api(edge, "POST", "/v1/orders", json_body=order)
    assert response.status == 400, response
    body = response.json()
    assert body["details"][0]["reason"] == "VALIDATION_ERROR"
    assert len(response.body) < 2_000


async def test_a_huge_value_comes_back_as_invalid_argument_over_grpc_web(edge: Edge) -> None:
    message = order_service_pb2.PlaceOrderRequest(
        contract=common_pb2.Contract(symbol="AAPL"),
        side=common_pb2.SIDE_BUY,
        quantity="9" * 20_000,
        order_type=order_service_pb2.ORDER_TYPE_MARKET,
    ).SerializeToString()
    response = await request(
        edge.base_url,
        "POST",
        "/ibkr.v1.OrderService/PlaceOrder",
        raw_body=b"\x00" + struct.pack(">I", len(message)) + message,
        headers=edge.authorization
        | {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"},
    )
    assert response.status == 200, response
    grpc_status = response.header("grpc-status")
    if grpc_status is None:  # trailers in the body's last frame
        assert b"grpc-status:3" in response.body, response
    else:
        assert grpc_status == "3", response


async def test_what_the_transcoder_refuses_itself_carries_a_catalogue_reason(edge: Edge) -> None:
    refusals = (
        ("POST", "/v1/orders", b"{", 400, 3),
        ("POST", "/v1/orders", b'{"validate_only": 1}', 400, 3),
        ("GET", "/v1/orders?not_a_field=1", None, 400, 3),
        ("GET", "/v1/contracts:search?page_size=1.5", None, 400, 3),
        ("DELETE", "/v1/orders", None, 404, 5),
    )
    for verb, path, body, status, code in refusals:
        response = await api(edge, verb, path, raw_body=body)
        assert response.status == status, (path, response)
        assert response.header("content-type") == "application/json", response
        error = response.json()
        assert error["code"] == code, error
        assert error["details"][0]["reason"] == "VALIDATION_ERROR", error
        assert error["message"], error


async def test_headers_too_large_are_a_catalogue_error(edge: Edge) -> None:
    response = await api(edge, "GET", "/v1/orders?account=" + "A" * 70_000)
    assert response.status == 431, response
    assert response.json()["details"][0]["reason"] == "VALIDATION_ERROR"


async def test_a_path_outside_the_api_keeps_its_plain_not_found(edge: Edge) -> None:
    response = await request(edge.base_url, "GET", "/nothing-here")
    assert response.status == 404, response
    assert response.header("content-type") != "application/json"
