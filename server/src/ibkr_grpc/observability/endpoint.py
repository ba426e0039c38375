"""The /metrics endpoint (Prometheus text format) on METRICS_LISTEN, in a thread of its own so
that a scrape never waits for the event loop."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


class MetricsEndpoint:
    def __init__(self, registry: CollectorRegistry, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        self._registry = registry
        self._host = host.strip("[]") or "127.0.0.1"
        self._port = int(port)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else self._port

    def start(self) -> None:
        if self._server is None:
            self._server, self._thread = start_http_server(
                self._port, addr=self._host, registry=self._registry
            )

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
