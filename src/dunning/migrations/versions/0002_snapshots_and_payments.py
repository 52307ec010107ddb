"""Snapshots of what was reminded, and the payments that came in.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(50), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("payment_method", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("open_amount", sa.BigInteger, nullable=False),
        sa.Column("days_overdue", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "as_of", "order_id", name="uq_snapshots_source_date_order"),
    )
    op.create_index("ix_snapshots_order_id", "snapshots", ["order_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("payment_id", sa.String(300), nullable=False, unique=True),
        sa.Column("order_id", sa.String(200), nullable=False, index=True),
        sa.Column("paid_at", sa.Date, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("flag", sa.String(50), nullable=False, server_default=""),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_index("ix_snapshots_order_id", "snapshots")
    op.drop_table("snapshots")
