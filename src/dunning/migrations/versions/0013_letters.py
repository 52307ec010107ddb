"""A customer's orders due for the same stage go out as one letter: the reminders of one letter share its key, and
the first of them carries the message.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as table:
        table.add_column(sa.Column("letter", sa.String(300), nullable=False, server_default=""))
    op.create_index("ix_reminders_letter", "reminders", ["letter"])


def downgrade() -> None:
    op.drop_index("ix_reminders_letter", "reminders")
    with op.batch_alter_table("reminders") as table:
        table.drop_column("letter")
