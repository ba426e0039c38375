"""A small HTTP/1.1 client for the edge tests (stdlib http.client, run in a worker thread so
the server under test keeps running on the event loop), with line-by-line streaming reads."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _connection(base_url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)


def _headers_of(response: http.client.HTTPResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in response.getheaders()}


def _request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
) -> Response:
    connection = _connection(base_url, timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return Response(response.status, _headers_of(response), response.read())
    finally:
        connection.close()


async def request(
    base_url: str,
    method: str,
    path: str,
    *,
    json_body: object = None,
    raw_body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    socket_timeout: float = 10.0,
) -> Response:
    """One request; the whole response is read."""
    all_headers = dict(headers or {})
    body = raw_body
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers.setdefault("content-type", "application/json")
    return await asyncio.to_thread(
        _request, base_url, method, path, body, all_headers, socket_timeout
    )


class LineStream:
    """The body of a streaming response, read one line at a time as it arrives."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = _headers_of(response)

    async def next_json(self) -> Any:
        """The next newline-delimited JSON message; the socket timeout bounds the wait."""
        line = await asyncio.to_thread(self._response.readline)
        if not line:
            raise AssertionError("the stream ended")
        return json.loads(line)


@asynccontextmanager
async def stream(
    base_url: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    socket_timeout: float = 5.0,
) -> AsyncIterator[LineStream]:
    """GET `path` and read its body line by line; the connection is closed on exit."""
    connection = _connection(base_url, socket_timeout)

    def open_stream() -> http.client.HTTPResponse:
        connection.request("GET", path, headers=dict(headers or {}))
        return connection.getresponse()

    try:
        yield LineStream(await asyncio.to_thread(open_stream))
    finally:
        connection.close()
