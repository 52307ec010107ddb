"""A statement entry is identified by what identifies it at the bank (account, date, amount, direction, the bank's
reference, the text), not by the bank's reference alone: the account and the bank's reference are kept apart, and
what a returned payment cost in bank charges. An entry stored before keeps its key, which is its bank reference.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statement_entries") as table:
        table.add_column(sa.Column("account", sa.String(50), nullable=False, server_default=""))
        table.add_column(sa.Column("bank_ref", sa.String(300), nullable=False, server_default=""))
        table.add_column(sa.Column("charges", sa.BigInteger, nullable=False, server_default="0"))
        table.add_column(sa.Column("problem", sa.Text, nullable=False, server_default=""))
    op.execute("UPDATE statement_entries SET bank_ref = entry_ref")


def downgrade() -> None:
    with op.batch_alter_table("statement_entries") as table:
        for column in ("problem", "charges", "bank_ref", "account"):
            table.drop_column(column)
