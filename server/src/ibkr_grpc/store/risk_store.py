"""Risk limits and the trading states (of every account, and per account), kept in the
database so they survive restarts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ibkr_grpc.domain.risk import (
    COUNT_LIMITS,
    DECIMAL_LIMITS,
    SWITCHES,
    WINDOWS,
    HaltCause,
    RiskLimits,
    TradingState,
    limit_violations,
)
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.tables import RiskLimitsRow, TradingStateRow

_DECIMALS = DECIMAL_LIMITS
_INTEGERS = COUNT_LIMITS
_BOOLEANS = SWITCHES
_WINDOWS = WINDOWS


def limits_to_document(limits: RiskLimits) -> dict[str, Any]:
    document: dict[str, Any] = {
        "allowed_symbols": sorted(limits.allowed_symbols),
        "denied_symbols": sorted(limits.denied_symbols),
    }
    for name in _DECIMALS:
        value = getattr(limits, name)
        document[name] = format(value, "f") if value is not None else None
    for name in (*_INTEGERS, *_BOOLEANS):
        document[name] = getattr(limits, name)
    for name in _WINDOWS:
        document[f"{name}_seconds"] = getattr(limits, name).total_seconds()
    return document


def limits_from_document(document: dict[str, Any]) -> RiskLimits:
    """The limits in a JSON document (the RISK_LIMITS_FILE shape); unknown keys are refused."""
    known = {"allowed_symbols", "denied_symbols", *_DECIMALS, *_INTEGERS, *_BOOLEANS}
    known |= {f"{name}_seconds" for name in _WINDOWS}
    unknown = set(document) - known
    if unknown:
        message = f"unknown risk limit keys: {', '.join(sorted(unknown))}"
        raise ValueError(message)
    values: dict[str, Any] = {
        "allowed_symbols": frozenset(s.upper() for s in document.get("allowed_symbols") or ()),
        "denied_symbols": frozenset(s.upper() for s in document.get("denied_symbols") or ()),
    }
    for name in _DECIMALS:
        raw = document.get(name)
        values[name] = Decimal(str(raw)) if raw not in (None, "") else None
    for name in _INTEGERS:
        raw = document.get(name)
        values[name] = int(raw) if raw is not None else None
    for name in _BOOLEANS:
        values[name] = bool(document.get(name, True))
    for name in _WINDOWS:
        raw = document.get(f"{name}_seconds")
        if raw is not None:
            values[name] = timedelta(seconds=float(raw))
    return RiskLimits(**values)


def read_limits_file(path: Path) -> RiskLimits:
    """The limits of RISK_LIMITS_FILE, held to the same bounds as UpdateRiskLimits."""
    limits = limits_from_document(json.loads(path.read_text(encoding="utf-8")))
    problems = limit_violations(limits)
    if problems:
        message = "; ".join(f"{name}: {description}" for name, description in problems)
        raise ValueError(f"{path}: {message}")
    return limits


class RiskStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def load_limits(self) -> RiskLimits | None:
        async with self._database.session() as session:
            row = await session.get(RiskLimitsRow, 1)
        return limits_from_document(json.loads(row.document)) if row is not None else None

    async def save_limits(self, limits: RiskLimits, *, updated_by: str, now: datetime) -> None:
        document = json.dumps(limits_to_document(limits), sort_keys=True)
        async with self._database.transaction() as session:
            await session.merge(
                RiskLimitsRow(
                    risk_limits_id=1, document=document, updated_by=updated_by, update_time=now
                )
            )

    async def load_states(self) -> list[TradingState]:
        async with self._database.session() as session:
            rows = (await session.scalars(select(TradingStateRow))).all()
        return [
            TradingState(
                halted=row.halted,
                since=row.since,
                cause=HaltCause(row.cause) if row.cause else None,
                halted_by=row.halted_by,
                reason=row.reason,
                account=row.account,
            )
            for row in rows
        ]

    async def save_state(self, state: TradingState) -> None:
        async with self._database.transaction() as session:
            row = await session.scalar(
                select(TradingStateRow).where(TradingStateRow.account == state.account)
            )
            if row is None:
                row = TradingStateRow(account=state.account)
                session.add(row)
            row.halted = state.halted
            row.cause = state.cause.value if state.cause else ""
            row.halted_by = state.halted_by
            row.reason = state.reason
            row.since = state.since
