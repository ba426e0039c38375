"""The audit trail survives a database outage: entries the store cannot take wait, in order,
and are written with the next entry (or at shutdown), never dropped silently."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ibkr.v1 import order_service_pb2
from ibkr_grpc.api.audit import CallAudit
from ibkr_grpc.domain.audit import AuditEntry

METHOD = "/ibkr.v1.OrderService/CancelOrder"


class OutageAuditor:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.down = False

    async def record(self, entry: AuditEntry) -> None:
        if self.down:
            message = "the database is unreachable"
            raise ConnectionError(message)
        self.entries.append(entry)


async def cancel(audit: CallAudit, order_id: str) -> None:
    request = order_service_pb2.CancelOrderRequest(order_id=order_id)
    await audit.record(METHOD, f"req-{order_id}", request, None, "OK", "")


async def test_entries_wait_out_an_outage_in_order() -> None:
    auditor = OutageAuditor()
    audit = CallAudit(auditor, frozenset({METHOD}), lambda: datetime.now(UTC))
    auditor.down = True
    await cancel(audit, "ord_1")
    await cancel(audit, "ord_2")
    assert auditor.entries == []
    auditor.down = False
    await cancel(audit, "ord_3")
    assert [entry.target for entry in auditor.entries] == ["ord_1", "ord_2", "ord_3"]


async def test_waiting_entries_are_written_at_shutdown() -> None:
    auditor = OutageAuditor()
    audit = CallAudit(auditor, frozenset({METHOD}), lambda: datetime.now(UTC))
    auditor.down = True
    await cancel(audit, "ord_9")
    auditor.down = False
    await audit.flush()
    assert [entry.target for entry in auditor.entries] == ["ord_9"]


async def test_concurrent_calls_write_each_entry_once() -> None:
    auditor = OutageAuditor()
    audit = CallAudit(auditor, frozenset({METHOD}), lambda: datetime.now(UTC))
    await asyncio.gather(*(cancel(audit, f"ord_{n}") for n in range(20)))
    assert sorted(entry.target for entry in auditor.entries) == sorted(
        f"ord_{n}" for n in range(20)
    )
