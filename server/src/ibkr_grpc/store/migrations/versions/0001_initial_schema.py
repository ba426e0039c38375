"""Initial schema: orders, fills, the order-event log, idempotency keys, snapshots, audit log.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 07:04:01.936247
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Exact decimals: NUMERIC on PostgreSQL, text on SQLite (which has no exact numeric type).
# Spelled out here rather than imported so that this migration never changes with the code.
EXACT_DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(48), "sqlite")


def upgrade() -> None:
    op.create_table(
        "account_snapshots",
        sa.Column(
            "snapshot_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("snapshot_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_values", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", name=op.f("pk_account_snapshots")),
    )
    with op.batch_alter_table("account_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_snapshots_account_snapshot_time"),
            ["account", "snapshot_time"],
            unique=False,
        )

    op.create_table(
        "audit_log",
        sa.Column(
            "audit_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("audit_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_audit_time"), ["audit_time"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_subject_audit_time"), ["subject", "audit_time"], unique=False
        )

    op.create_table(
        "fills",
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("broker_order_id", sa.BigInteger(), nullable=False),
        sa.Column("perm_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", EXACT_DECIMAL, nullable=False),
        sa.Column("price", EXACT_DECIMAL, nullable=False),
        sa.Column("cumulative_quantity", EXACT_DECIMAL, nullable=False),
        sa.Column("average_price", EXACT_DECIMAL, nullable=True),
        sa.Column("execution_exchange", sa.String(length=32), nullable=False),
        sa.Column("commission", EXACT_DECIMAL, nullable=True),
        sa.Column("commission_currency", sa.String(length=8), nullable=False),
        sa.Column("realized_pnl", EXACT_DECIMAL, nullable=True),
        sa.Column("reference_price", EXACT_DECIMAL, nullable=True),
        sa.Column("execution_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("security_type", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("primary_exchange", sa.String(length=32), nullable=False),
        sa.Column("local_symbol", sa.String(length=64), nullable=False),
        sa.Column("trading_class", sa.String(length=32), nullable=False),
        sa.Column("last_trade_date", sa.String(length=16), nullable=False),
        sa.Column("strike", EXACT_DECIMAL, nullable=True),
        sa.Column("option_right", sa.String(length=8), nullable=False),
        sa.Column("multiplier", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_fills")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fills_account_execution_time"),
            ["account", "execution_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_fills_execution_time_execution_id"),
            ["execution_time", "execution_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fills_symbol_execution_time"), ["symbol", "execution_time"], unique=False
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "order_events",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_snapshot", sa.Text(), nullable=False),
        sa.Column("fill_snapshot", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_events_account_sequence"), ["account", "sequence"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_events_order_id_sequence"), ["order_id", "sequence"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", EXACT_DECIMAL, nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("limit_price", EXACT_DECIMAL, nullable=True),
        sa.Column("stop_price", EXACT_DECIMAL, nullable=True),
        sa.Column("trailing_amount", EXACT_DECIMAL, nullable=True),
        sa.Column("trailing_percent", EXACT_DECIMAL, nullable=True),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("outside_regular_hours", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("broker_order_id", sa.BigInteger(), nullable=False),
        sa.Column("perm_id", sa.BigInteger(), nullable=False),
        sa.Column("filled_quantity", EXACT_DECIMAL, nullable=False),
        sa.Column("average_fill_price", EXACT_DECIMAL, nullable=True),
        sa.Column("parent_order_id", sa.String(length=40), nullable=False),
        sa.Column("bracket_role", sa.String(length=16), nullable=False),
        sa.Column("oca_group", sa.String(length=64), nullable=False),
        sa.Column("arrival_bid", EXACT_DECIMAL, nullable=True),
        sa.Column("arrival_ask", EXACT_DECIMAL, nullable=True),
        sa.Column("arrival_last", EXACT_DECIMAL, nullable=True),
        sa.Column("arrival_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("commission", EXACT_DECIMAL, nullable=True),
        sa.Column("commission_currency", sa.String(length=8), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("security_type", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("primary_exchange", sa.String(length=32), nullable=False),
        sa.Column("local_symbol", sa.String(length=64), nullable=False),
        sa.Column("trading_class", sa.String(length=32), nullable=False),
        sa.Column("last_trade_date", sa.String(length=16), nullable=False),
        sa.Column("strike", EXACT_DECIMAL, nullable=True),
        sa.Column("option_right", sa.String(length=8), nullable=False),
        sa.Column("multiplier", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_account_create_time"), ["account", "create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_broker_order_id"), ["broker_order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_create_time_order_id"), ["create_time", "order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_parent_order_id"), ["parent_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_perm_id"), ["perm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_symbol_create_time"), ["symbol", "create_time"], unique=False
        )

    op.create_table(
        "position_snapshots",
        sa.Column(
            "snapshot_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", EXACT_DECIMAL, nullable=False),
        sa.Column("average_cost", EXACT_DECIMAL, nullable=True),
        sa.Column("snapshot_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", name=op.f("pk_position_snapshots")),
    )
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_position_snapshots_account_snapshot_time"),
            ["account", "snapshot_time"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_snapshots_account_snapshot_time"))

    op.drop_table("position_snapshots")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_symbol_create_time"))
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_perm_id"))
        batch_op.drop_index(batch_op.f("ix_orders_parent_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_create_time_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_broker_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_account_create_time"))

    op.drop_table("orders")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id_sequence"))
        batch_op.drop_index(batch_op.f("ix_order_events_account_sequence"))

    op.drop_table("order_events")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_symbol_execution_time"))
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))
        batch_op.drop_index(batch_op.f("ix_fills_execution_time_execution_id"))
        batch_op.drop_index(batch_op.f("ix_fills_account_execution_time"))

    op.drop_table("fills")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject_audit_time"))
        batch_op.drop_index(batch_op.f("ix_audit_log_audit_time"))

    op.drop_table("audit_log")
    with op.batch_alter_table("account_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_snapshots_account_snapshot_time"))

    op.drop_table("account_snapshots")
