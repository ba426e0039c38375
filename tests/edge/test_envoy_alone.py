"""What Envoy answers by itself: CORS preflights, the UI's files, paths that are no API route.

Its upstream is a closed port here, so anything Envoy wrongly forwarded would come back 503.
"""

from __future__ import annotations

from tests.edge.conftest import ALLOWED_ORIGIN, APP_JS, INDEX_HTML, OTHER_ORIGIN
from tests.edge.envoy_process import RunningEnvoy
from tests.edge.web import request

GRPC_WEB_METHOD = "/ibkr.v1.OrderService/PlaceOrder"


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-grpc-web,x-user-agent,authorization",
    }


async def test_api_routes_are_forwarded_and_fail_with_503_while_the_server_is_down(
    envoy_alone: RunningEnvoy,
) -> None:
    # What every "answered by Envoy" assertion below relies on.
    response = await request(envoy_alone.base_url, "GET", "/v1/gateway/status")
    assert response.status == 503


async def test_preflight_from_an_allowed_origin_is_answered_with_the_cors_policy(
    envoy_alone: RunningEnvoy,
) -> None:
    for path in (GRPC_WEB_METHOD, "/v1/orders"):
        response = await request(
            envoy_alone.base_url, "OPTIONS", path, headers=preflight_headers(ALLOWED_ORIGIN)
        )
        assert response.status == 200, path
        assert response.header("access-control-allow-origin") == ALLOWED_ORIGIN
        allowed = {
            name.strip()
            for name in (response.header("access-control-allow-headers") or "").split(",")
        }
        assert {
            "content-type",
            "x-grpc-web",
            "x-user-agent",
            "grpc-timeout",
            "authorization",
            "x-request-id",
        } <= allowed
        assert "POST" in (response.header("access-control-allow-methods") or "")
        exposed = response.header("access-control-expose-headers") or ""
        for name in ("grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"):
            assert name in exposed


async def test_preflight_from_another_origin_is_refused_by_envoy(
    envoy_alone: RunningEnvoy,
) -> None:
    response = await request(
        envoy_alone.base_url,
        "OPTIONS",
        GRPC_WEB_METHOD,
        headers=preflight_headers(OTHER_ORIGIN),
    )
    # Answered by Envoy (the upstream is down: forwarded, it would be 503) without the header
    # that would let the browser send the request.
    assert response.status == 200
    assert response.header("access-control-allow-origin") is None
    assert response.header("grpc-status") is None


async def test_ui_files_are_served_on_the_same_origin(
    envoy_alone: RunningEnvoy,
) -> None:
    index = await request(envoy_alone.base_url, "GET", "/")
    assert index.status == 200
    assert index.body == INDEX_HTML
    assert index.header("content-type") == "text/html; charset=utf-8"

    also_index = await request(envoy_alone.base_url, "GET", "/index.html?version=2")
    assert also_index.body == INDEX_HTML

    script = await request(envoy_alone.base_url, "GET", "/assets/app.js")
    assert script.status == 200
    assert script.body == APP_JS
    assert script.header("content-type") == "text/javascript; charset=utf-8"

    head = await request(envoy_alone.base_url, "HEAD", "/assets/app.js")
    assert head.status == 200
    assert head.header("content-length") == str(len(APP_JS))


async def test_paths_that_are_neither_files_nor_routes_are_404_from_envoy(
    envoy_alone: RunningEnvoy,
) -> None:
    for method, path in [
        ("GET", "/assets/missing.js"),
        ("GET", "/nothing-here"),
        ("POST", "/nothing-here"),
        ("GET", "/v1/nothing-here"),
        ("POST", "/v1/orders/some-id:explode"),
        ("GET", "/v2/orders"),
    ]:
        body = b"{}" if method == "POST" else None
        response = await request(envoy_alone.base_url, method, path, raw_body=body)
        assert response.status == 404, (method, path, response)


async def test_no_path_reaches_outside_the_ui_folder(envoy_alone: RunningEnvoy) -> None:
    for path in (
        "/../envoy-secret.yaml",
        "/assets/../../envoy-secret.yaml",
        "/%2e%2e/envoy-secret.yaml",
        "/assets/%2e%2e/%2e%2e/envoy-secret.yaml",
        "//etc/passwd",
    ):
        response = await request(envoy_alone.base_url, "GET", path)
        assert response.status in {400, 404}, (path, response)
