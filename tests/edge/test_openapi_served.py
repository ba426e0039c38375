"""Envoy serves the OpenAPI document at /openapi.json and its reference page at /docs/, from the
repository's files, with no token and no server behind it."""

from __future__ import annotations

import json

from tests.edge.envoy_process import REPOSITORY, RunningEnvoy
from tests.edge.web import request

DOCUMENT = REPOSITORY / "envoy" / "openapi.json"
PAGE = REPOSITORY / "envoy" / "docs"
SWAGGER_UI = REPOSITORY / "node_modules" / "swagger-ui-dist"


async def test_the_document_is_the_committed_file_as_json(envoy_alone: RunningEnvoy) -> None:
    response = await request(envoy_alone.base_url, "GET", "/openapi.json")
    assert response.status == 200, response
    assert response.header("content-type") == "application/json"
    assert response.body == DOCUMENT.read_bytes()
    assert json.loads(response.body)["openapi"].startswith("3.1.")

    head = await request(envoy_alone.base_url, "HEAD", "/openapi.json")
    assert head.status == 200
    assert head.header("content-length") == str(DOCUMENT.stat().st_size)


async def test_the_reference_page_loads_swagger_ui_and_the_document(
    envoy_alone: RunningEnvoy,
) -> None:
    redirect = await request(envoy_alone.base_url, "GET", "/docs")
    assert redirect.status == 301, redirect
    assert (redirect.header("location") or "").endswith("/docs/")

    page = await request(envoy_alone.base_url, "GET", "/docs/")
    assert page.status == 200, page
    assert page.header("content-type") == "text/html; charset=utf-8"
    assert page.body == (PAGE / "index.html").read_bytes()
    # Every file the page names is served, each with its type.
    for path, content_type, local in (
        ("/docs/reference.js", "text/javascript; charset=utf-8", PAGE / "reference.js"),
        (
            "/docs/swagger-ui/swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            SWAGGER_UI / "swagger-ui-bundle.js",
        ),
        (
            "/docs/swagger-ui/swagger-ui.css",
            "text/css; charset=utf-8",
            SWAGGER_UI / "swagger-ui.css",
        ),
    ):
        assert path.encode() in page.body or path == "/docs/swagger-ui/swagger-ui.css"
        served = await request(envoy_alone.base_url, "GET", path)
        assert served.status == 200, (path, served.status)
        assert served.header("content-type") == content_type, path
        assert served.body == local.read_bytes(), path
    assert b"/docs/swagger-ui/swagger-ui.css" in page.body
    assert b'url: "/openapi.json"' in (PAGE / "reference.js").read_bytes()


async def test_only_reads_of_the_named_files_are_served(envoy_alone: RunningEnvoy) -> None:
    for method, path in (
        ("POST", "/openapi.json"),
        ("PUT", "/docs/index.html"),
        ("GET", "/openapi.json.bak"),
        ("GET", "/docs/missing.js"),
        ("GET", "/docs/swagger-ui/missing.js"),
    ):
        body = b"{}" if method in {"POST", "PUT"} else None
        response = await request(envoy_alone.base_url, method, path, raw_body=body)
        assert response.status == 404, (method, path, response)
    for path in (
        "/docs/../envoy/envoy.yaml",
        "/docs/%2e%2e/%2e%2e/pyproject.toml",
        "/docs/swagger-ui/../../../package.json",
    ):
        response = await request(envoy_alone.base_url, "GET", path)
        assert response.status in {400, 404}, (path, response)
