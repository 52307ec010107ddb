"""Bank statement entries: every entry read from a camt or MT940 statement, once per bank reference, with
the order it paid and how it was matched (reference, order id in the text, probable, unmatched, debit).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_entries",
    sa.Column("entry_ref", sa.String(300), primary_key=True),
    sa.Column("file", sa.String(300), nullable=False),
    sa.Column("booked_on", sa.Date, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("direction", sa.String(10), nullable=False),
    sa.Column("reference", sa.String(300), nullable=False, server_default=""),
    sa.Column("remittance", sa.Text, nullable=False, server_default=""),
    sa.Column("payer", sa.String(300), nullable=False, server_default=""),
    sa.Column("payer_iban", sa.String(50), nullable=False, server_default=""),
    sa.Column("reason_code", sa.String(10), nullable=False, server_default=""),
    sa.Column("order_id", sa.String(200), nullable=False, server_default=""),
    sa.Column("matched_by", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_statement_entries_matched_by", "statement_entries", ["matched_by"])


def downgrade() -> None:
    op.drop_index("ix_statement_entries_matched_by", "statement_entries")
    op.drop_table("statement_entries")
