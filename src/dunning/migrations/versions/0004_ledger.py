"""The ledger: reminders from every channel carry their date, orders keep the export's installments.

- reminders gain `reminded_on` (the business date of a sent reminder or a hand-over), `payment_method`,
  `days_overdue` and `claimed_by` (the sender that claimed it); sent reminders get the date they were
  sent, and the method and days from the snapshot their campaign recorded.
- campaigns.channel grows to 50 characters (`export:activecampaign` names a hand-over).
- the installments an order's page shows move from a JSON column into their own table.
- snapshots go: reminders are the base of the report, and snapshots written by `overdue --record`
  were looks, not reminders.

Revision ID: 0004
Revises: 0003
"""
import json
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.alter_column("channel", type_=sa.String(50), existing_type=sa.String(20), existing_nullable=False)
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("payment_method", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("days_overdue", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("reminded_on", sa.Date))
        batch.add_column(sa.Column("claimed_by", sa.String(300)))
    bind = op.get_bind()
    reminders = sa.table("reminders", sa.column("id"), sa.column("campaign_id"), sa.column("order_id"),
                         sa.column("status"), sa.column("sent_at", sa.DateTime(timezone=True)),
                         sa.column("reminded_on", sa.Date), sa.column("payment_method"), sa.column("days_overdue"))
    campaigns = sa.table("campaigns", sa.column("id"), sa.column("name"))
    snapshots = sa.table("snapshots", sa.column("source"), sa.column("order_id"), sa.column("payment_method"),
                         sa.column("days_overdue"), sa.column("kind"))
    known = {(s.source, s.order_id): s for s in bind.execute(sa.select(snapshots).where(snapshots.c.kind == "reminded"))}
    names = dict(bind.execute(sa.select(campaigns.c.id, campaigns.c.name)).all())
    for r in bind.execute(sa.select(reminders)).all():
        snap = known.get((names.get(r.campaign_id), r.order_id))
        values = {"reminded_on": r.sent_at.date() if r.status == "sent" and r.sent_at else None}
        if snap is not None:
            values |= {"payment_method": snap.payment_method, "days_overdue": snap.days_overdue}
        bind.execute(reminders.update().where(reminders.c.id == r.id).values(**values))
    op.drop_table("snapshots")

    op.create_table(
        "installments",
        sa.Column("order_id", sa.String(200), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("amount_due", sa.BigInteger, nullable=False),
        sa.Column("amount_open", sa.BigInteger, nullable=False),
    )
    orders = sa.table("orders", sa.column("order_id"), sa.column("installments"))
    installments = sa.table("installments", sa.column("order_id"), sa.column("seq"), sa.column("due_date", sa.Date),
                            sa.column("amount_due"), sa.column("amount_open"))
    rows = [{"order_id": o.order_id, "seq": i["seq"], "due_date": date.fromisoformat(i["due_date"]),
             "amount_due": i["due"], "amount_open": i["open"]}
            for o in bind.execute(sa.select(orders)).all() for i in json.loads(o.installments or "[]")]
    if rows:
        bind.execute(installments.insert(), rows)
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("installments")


def downgrade() -> None:
    raise NotImplementedError("the ledger migration is one way: restore a backup of the store to go back")
