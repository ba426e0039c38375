"""Writes one audit entry for every call of an audited (mutating) method, whatever its outcome."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import structlog
from google.protobuf import json_format, text_format
from google.protobuf.message import Message

from ibkr_grpc.domain.audit import AuditEntry
from ibkr_grpc.services.ports import Auditor

_log = structlog.get_logger("ibkr_grpc.audit")
_MAXIMUM_DETAIL = 4000
_MAXIMUM_UNWRITTEN = 10_000

# Who is calling: set by the authentication interceptor when there is one.
CALLER: ContextVar[str] = ContextVar("caller", default="anonymous")


def _target(request: Any, response: Any) -> str:
    for message in (response, request):
        order = getattr(message, "order", None)
        order_id = getattr(order, "order_id", None) if isinstance(order, Message) else None
        if order_id:
            return str(order_id)
    for name in ("order_id", "client_order_id", "account"):
        value = getattr(request, name, "")
        if value:
            return str(value)
    return ""


def _summary(request: Any) -> str:
    """The request as JSON; in text format when JSON cannot hold it (a Timestamp or Duration
    out of range: the refusal of such a request is audited too)."""
    try:
        return json.dumps(json_format.MessageToDict(request, preserving_proto_field_name=True))
    except json_format.Error:
        return text_format.MessageToString(request, as_one_line=True)


class CallAudit:
    def __init__(
        self, auditor: Auditor, methods: frozenset[str], clock: Callable[[], datetime]
    ) -> None:
        self._auditor = auditor
        self._methods = methods
        self._clock = clock
        # Entries the store could not take (the database was down), oldest first: written
        # before the next entry and at shutdown, so an outage delays the audit trail but does
        # not lose it. Bounded: past the limit the oldest are dropped, and counted in the log.
        self._unwritten: deque[AuditEntry] = deque(maxlen=_MAXIMUM_UNWRITTEN)
        self._dropped = 0

    async def record(
        self, method: str, request_id: str, request: Any, response: Any, outcome: str, message: str
    ) -> None:
        if method not in self._methods:
            return
        detail = {"request": _summary(request)[:_MAXIMUM_DETAIL]}
        if message:
            detail["message"] = message
        entry = AuditEntry(
            audit_time=self._clock(),
            subject=CALLER.get(),
            action=method.rsplit("/", 1)[-1],
            request_id=request_id,
            target=_target(request, response)[:128],
            outcome=outcome,
            detail=detail,
        )
        if len(self._unwritten) == self._unwritten.maxlen:
            self._dropped += 1
        self._unwritten.append(entry)
        await self.flush()

    async def flush(self) -> None:
        """Write the entries still waiting, in order; stop at the first failure."""
        while self._unwritten:
            # Taken before the write, so concurrent calls never write one entry twice; put
            # back at the front when the write fails.
            entry = self._unwritten.popleft()
            try:
                await self._auditor.record(entry)
            except Exception as error:  # noqa: BLE001  the call's own outcome stands
                self._unwritten.appendleft(entry)
                _log.warning(
                    "audit entries wait for the database",
                    waiting=len(self._unwritten),
                    dropped=self._dropped,
                    error=str(error),
                )
                return
