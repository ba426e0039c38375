"""Account and position snapshots, taken at each reconciliation, for the record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from ibkr_grpc.store.database import Database
from ibkr_grpc.store.tables import AccountSnapshotRow, PositionSnapshotRow


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    account: str
    con_id: int
    symbol: str
    quantity: Decimal
    average_cost: Decimal | None


class SnapshotStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def save(
        self,
        *,
        snapshot_time: datetime,
        account_values: dict[str, list[tuple[str, str, str]]],
        positions: Sequence[PositionSnapshot],
    ) -> None:
        """Store every account's values ((tag, value, currency) triples) and every position."""
        async with self._database.transaction() as session:
            for account, values in account_values.items():
                rows = [{"tag": tag, "value": value, "currency": cur} for tag, value, cur in values]
                session.add(
                    AccountSnapshotRow(
                        account=account,
                        snapshot_time=snapshot_time,
                        account_values=json.dumps(rows),
                    )
                )
            session.add_all(
                PositionSnapshotRow(
                    account=position.account,
                    con_id=position.con_id,
                    symbol=position.symbol,
                    quantity=position.quantity,
                    average_cost=position.average_cost,
                    snapshot_time=snapshot_time,
                )
                for position in positions
            )

    async def latest_positions(self, account: str) -> list[PositionSnapshot]:
        async with self._database.session() as session:
            latest = await session.scalar(
                select(func.max(PositionSnapshotRow.snapshot_time)).where(
                    PositionSnapshotRow.account == account
                )
            )
            if latest is None:
                return []
            rows = (
                await session.scalars(
                    select(PositionSnapshotRow).where(
                        PositionSnapshotRow.account == account,
                        PositionSnapshotRow.snapshot_time == latest,
                    )
                )
            ).all()
        return [
            PositionSnapshot(row.account, row.con_id, row.symbol, row.quantity, row.average_cost)
            for row in rows
        ]
