"""A customer's orders found by their e-mail address, whatever its case (`dunning customer`, the dashboard).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_email_lower", "orders", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_orders_email_lower", table_name="orders")
