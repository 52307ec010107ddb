"""A reminder states the default interest and the collection costs it asks (charged when it is sent, like its fee),
and those charged earlier that were still open.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = ("interest", "costs", "interest_open", "costs_open")


def upgrade() -> None:
    with op.batch_alter_table("reminders") as table:
        for column in COLUMNS:
            table.add_column(sa.Column(column, sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as table:
        for column in reversed(COLUMNS):
            table.drop_column(column)
