"""An order's reminders are indexed by order and day: the manage page asks for an order's last reminder sent
at every view, and without it SQLite looked through every reminder sent (its index on the status).

Revision ID: 0016
Revises: 0015
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reminders_order_reminded_on", "reminders", ["order_id", "reminded_on"])


def downgrade() -> None:
    op.drop_index("ix_reminders_order_reminded_on", table_name="reminders")
