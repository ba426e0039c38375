"""The audit log: one row for every mutating call, whatever its outcome."""

from __future__ import annotations

import json

from sqlalchemy import select

from ibkr_grpc.domain.audit import AuditEntry
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.tables import AuditLogRow


class AuditStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, entry: AuditEntry) -> None:
        async with self._database.transaction() as session:
            session.add(
                AuditLogRow(
                    audit_time=entry.audit_time,
                    subject=entry.subject,
                    action=entry.action,
                    request_id=entry.request_id,
                    target=entry.target,
                    outcome=entry.outcome,
                    detail=json.dumps(entry.detail, sort_keys=True),
                )
            )

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        query = select(AuditLogRow).order_by(AuditLogRow.audit_id.desc()).limit(limit)
        async with self._database.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            AuditEntry(
                row.audit_time,
                row.subject,
                row.action,
                row.request_id,
                row.target,
                row.outcome,
                json.loads(row.detail) if row.detail else {},
            )
            for row in rows
        ]
