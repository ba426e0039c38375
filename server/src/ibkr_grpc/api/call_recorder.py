"""What the call interceptor reports about each call, for metrics (implemented in
ibkr_grpc.observability); the interceptor knows nothing of Prometheus."""

from __future__ import annotations

from typing import Protocol


class CallRecorder(Protocol):
    def started(self, kind: str, service: str, method: str) -> None: ...

    def handled(self, kind: str, service: str, method: str, code: str, seconds: float) -> None: ...

    def message_sent(self, kind: str, service: str, method: str, seconds: float) -> None: ...

    def stream_opened(self, method: str) -> None: ...

    def stream_closed(self, method: str) -> None: ...

    def refused(self, method: str, reason: str) -> None: ...
