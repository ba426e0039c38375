"""The database schema. Migrations (store/migrations) create it; these classes map it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ibkr_grpc.store.column_types import ExactDecimal, UtcDateTime

# A BIGINT sequence on PostgreSQL; SQLite auto-increments only an INTEGER PRIMARY KEY.
SequenceInteger = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ContractColumns:
    """The instrument columns an order or fill carries (denormalised: orders outlive caches)."""

    symbol: Mapped[str] = mapped_column(String(32))
    security_type: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(8))
    con_id: Mapped[int] = mapped_column(BigInteger, default=0)
    primary_exchange: Mapped[str] = mapped_column(String(32), default="")
    local_symbol: Mapped[str] = mapped_column(String(64), default="")
    trading_class: Mapped[str] = mapped_column(String(32), default="")
    last_trade_date: Mapped[str] = mapped_column(String(16), default="")
    strike: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    option_right: Mapped[str] = mapped_column(String(8), default="NONE")
    multiplier: Mapped[str] = mapped_column(String(16), default="")


class OrderRow(ContractColumns, Base):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Not unique: a key whose first attempt IB never received (NOT_SENT) names a second one.
    # The idempotency table keeps the key itself unique.
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    account: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    order_type: Mapped[str] = mapped_column(String(16))
    limit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    stop_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    trailing_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    trailing_percent: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    time_in_force: Mapped[str] = mapped_column(String(8))
    outside_regular_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    broker_order_id: Mapped[int] = mapped_column(BigInteger, default=0)
    perm_id: Mapped[int] = mapped_column(BigInteger, default=0)
    filled_quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    average_fill_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    parent_order_id: Mapped[str] = mapped_column(String(40), default="")
    bracket_role: Mapped[str] = mapped_column(String(16), default="NONE")
    oca_group: Mapped[str] = mapped_column(String(64), default="")
    arrival_bid: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    arrival_ask: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    arrival_last: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    arrival_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    commission: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    commission_currency: Mapped[str] = mapped_column(String(8), default="")
    create_time: Mapped[datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[datetime] = mapped_column(UtcDateTime)
    # The authenticated subject that placed the order ("" before authentication existed).
    placed_by: Mapped[str] = mapped_column(String(128), default="", server_default="")
    origin: Mapped[str] = mapped_column(
        String(20), default="THIS_SERVER", server_default="THIS_SERVER"
    )
    broker_client_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A combination order's legs as JSON (records.py); "" for any other order. Legs never change
    # after placement, and the event log's order snapshots carry them the same way.
    combo_legs: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (
        Index(None, "create_time", "order_id"),
        Index(None, "account", "create_time"),
        Index(None, "symbol", "create_time"),
        Index(None, "status"),
        Index(None, "broker_order_id"),
        Index(None, "perm_id"),
        Index(None, "parent_order_id"),
    )


class FillRow(ContractColumns, Base):
    __tablename__ = "fills"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), default="")
    broker_order_id: Mapped[int] = mapped_column(BigInteger, default=0)
    perm_id: Mapped[int] = mapped_column(BigInteger, default=0)
    account: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    cumulative_quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    average_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    execution_exchange: Mapped[str] = mapped_column(String(32), default="")
    commission: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    commission_currency: Mapped[str] = mapped_column(String(8), default="")
    realized_pnl: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    reference_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    execution_time: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(None, "execution_time", "execution_id"),
        Index(None, "order_id"),
        Index(None, "account", "execution_time"),
        Index(None, "symbol", "execution_time"),
    )


class OrderEventRow(Base):
    """The order-event log. `sequence` is allocated by the store in the event's own transaction
    under the service's single writer (OrderStore._append): commit order and sequence order
    agree, a reader never sees a gap fill later, and a failed transaction leaves no gap."""

    __tablename__ = "order_events"

    sequence: Mapped[int] = mapped_column(SequenceInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(24))
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    # The order as it stood right after the event, and the fill for fill events, as JSON.
    order_snapshot: Mapped[str] = mapped_column(Text)
    fill_snapshot: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index(None, "order_id", "sequence"), Index(None, "account", "sequence"))


class IdempotencyKeyRow(Base):
    """AIP-155 request ids: a key, a fingerprint of the request it came with, and its result."""

    __tablename__ = "idempotency_keys"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(40))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime)


def _archive_table(live: type[Base], name: str, *indexes: tuple[str, ...]) -> Table:
    """A table with the live table's columns (no auto-increment: the values are moved, never
    made) and the time each row was archived (store/order_archive.py)."""
    source = cast("Table", live.__table__)
    columns = [column._copy() for column in source.columns]  # noqa: SLF001  SQLAlchemy's copy
    for column in columns:
        column.autoincrement = False
    return Table(
        name,
        Base.metadata,
        *columns,
        Column("archive_time", UtcDateTime, nullable=False),
        *(Index(None, *index) for index in indexes),
    )


# Terminal orders, their fills and their events, moved out of the live tables by archival.
# Nothing reads them on the order path; the event archive answers which sequences are gone.
orders_archive = _archive_table(OrderRow, "orders_archive", ("archive_time",))
fills_archive = _archive_table(FillRow, "fills_archive", ("order_id",))
order_events_archive = _archive_table(
    OrderEventRow, "order_events_archive", ("account", "sequence"), ("order_id", "sequence")
)


class AccountSnapshotRow(Base):
    __tablename__ = "account_snapshots"

    snapshot_id: Mapped[int] = mapped_column(SequenceInteger, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(32))
    snapshot_time: Mapped[datetime] = mapped_column(UtcDateTime)
    # Every account value IB reported, as JSON [{"tag", "value", "currency"}].
    account_values: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index(None, "account", "snapshot_time"),)


class PositionSnapshotRow(Base):
    __tablename__ = "position_snapshots"

    snapshot_id: Mapped[int] = mapped_column(SequenceInteger, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(32))
    con_id: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    average_cost: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    snapshot_time: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index(None, "account", "snapshot_time"),)


class AuditLogRow(Base):
    """Every mutating call: who, what, when, its request id and its outcome."""

    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(SequenceInteger, primary_key=True, autoincrement=True)
    audit_time: Mapped[datetime] = mapped_column(UtcDateTime)
    subject: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(32))
    # Request summary and error reason, as JSON; never tokens or secrets.
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index(None, "audit_time"), Index(None, "subject", "audit_time"))


class RiskLimitsRow(Base):
    """The risk limits in force: one row, replaced by UpdateRiskLimits."""

    __tablename__ = "risk_limits"

    risk_limits_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The limits as JSON, in the shape of the API's RiskLimits message.
    document: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(128))
    update_time: Mapped[datetime] = mapped_column(UtcDateTime)


class TradingStateRow(Base):
    """Whether trading is halted: one row, so a halt survives a restart."""

    __tablename__ = "trading_state"

    trading_state_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "" for the halt of every account; otherwise one account's own halt.
    account: Mapped[str] = mapped_column(String(32), default="", unique=True, index=True)
    halted: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[str] = mapped_column(String(32), default="")
    halted_by: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime] = mapped_column(UtcDateTime)
