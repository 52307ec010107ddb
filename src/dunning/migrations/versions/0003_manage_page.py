"""What the manage page shows and records: order details, visits, requests, webhook events.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("product_name", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("installments", sa.Text, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False, index=True),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "method_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False, index=True),
        sa.Column("wanted", sa.String(50), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("webhook_events", "method_requests", "visits", "orders"):
        op.drop_table(table)
