"""Order origin and per-account halts: orders placed outside this server are stored with their
origin and API client id; a client_order_id may name a new attempt after one IB never received
(the idempotency table keeps the key unique); trading can be halted per account.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_orders_client_order_id"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_orders_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.add_column(
            sa.Column("origin", sa.String(length=20), server_default="THIS_SERVER", nullable=False)
        )
        batch_op.add_column(
            sa.Column("broker_client_id", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("trading_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account", sa.String(length=32), server_default="", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_trading_state_account"), ["account"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("trading_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trading_state_account"))
        batch_op.drop_column("account")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("broker_client_id")
        batch_op.drop_column("origin")
        batch_op.drop_index(batch_op.f("ix_orders_client_order_id"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_orders_client_order_id"), ["client_order_id"]
        )
