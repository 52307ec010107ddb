"""The whole cycle: messages about something other than the order's arrears, the merchant's decisions.

- reminders gain `about`: "" for a dunning stage (once per order and stage, as before), `due:<date>` for a
  notice before an installment falls due, `payment:<id>` for a payment confirmation; the uniqueness
  becomes (order, stage, about).
- method_requests gain `done_at` (the merchant dealt with the request).
- decisions: an order the merchant cancelled, wrote off or handed to collection (no further reminders).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("about", sa.String(100), nullable=False, server_default=""))
        batch.drop_constraint("uq_reminders_order_stage", type_="unique")
        batch.create_unique_constraint("uq_reminders_order_stage_about", ["order_id", "stage", "about"])
    with op.batch_alter_table("method_requests") as batch:
        batch.add_column(sa.Column("done_at", sa.DateTime(timezone=True)))
    op.create_table(
        "decisions",
        sa.Column("order_id", sa.String(200), primary_key=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_open", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decisions")
    with op.batch_alter_table("method_requests") as batch:
        batch.drop_column("done_at")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_constraint("uq_reminders_order_stage_about", type_="unique")
        batch.create_unique_constraint("uq_reminders_order_stage", ["order_id", "stage"])
        batch.drop_column("about")
