"""Authentication and risk: who placed each order, the risk limits, and the trading halt.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:36:26.004274
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_limits",
        sa.Column("risk_limits_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("risk_limits_id", name=op.f("pk_risk_limits")),
    )
    op.create_table(
        "trading_state",
        sa.Column("trading_state_id", sa.Integer(), nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("halted_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trading_state_id", name=op.f("pk_trading_state")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("placed_by", sa.String(length=128), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("placed_by")

    op.drop_table("trading_state")
    op.drop_table("risk_limits")
