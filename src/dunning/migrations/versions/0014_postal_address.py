"""A reminder keeps the postal address its order had when it was prepared, for a letter by post.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as table:
        table.add_column(sa.Column("postal_address", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as table:
        table.drop_column("postal_address")
