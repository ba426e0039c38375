"""Archival of terminal orders: orders_archive, fills_archive and order_events_archive hold,
with the time they were archived, the rows that archival (store/order_archive.py) moves out of
orders, fills and order_events. The same columns as the live tables, no auto-increment: the
archived event sequences stay taken, and resumes before them are answered EVENTS_ARCHIVED.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Exact decimals as in 0001, spelled out so that this migration never changes with the code.
EXACT_DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(48), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fills_archive",
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
        sa.Column("archive_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_fills_archive")),
    )
    with op.batch_alter_table("fills_archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_archive_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_events_archive",
        # Moved values, never allocated here: no SERIAL on PostgreSQL.
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_snapshot", sa.Text(), nullable=False),
        sa.Column("fill_snapshot", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("archive_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_order_events_archive")),
    )
    with op.batch_alter_table("order_events_archive", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_events_archive_account_sequence"),
            ["account", "sequence"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_order_events_archive_order_id_sequence"),
            ["order_id", "sequence"],
            unique=False,
        )

    op.create_table(
        "orders_archive",
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
        sa.Column("placed_by", sa.String(length=128), server_default="", nullable=False),
        sa.Column("origin", sa.String(length=20), server_default="THIS_SERVER", nullable=False),
        sa.Column("broker_client_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("combo_legs", sa.Text(), server_default="", nullable=False),
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
        sa.Column("archive_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders_archive")),
    )
    with op.batch_alter_table("orders_archive", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_archive_archive_time"), ["archive_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_archive_client_order_id"), ["client_order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders_archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_archive_client_order_id"))
        batch_op.drop_index(batch_op.f("ix_orders_archive_archive_time"))

    op.drop_table("orders_archive")
    with op.batch_alter_table("order_events_archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_archive_order_id_sequence"))
        batch_op.drop_index(batch_op.f("ix_order_events_archive_account_sequence"))

    op.drop_table("order_events_archive")
    with op.batch_alter_table("fills_archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_archive_order_id"))

    op.drop_table("fills_archive")
