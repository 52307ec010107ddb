"""The store's tables, defined once: the migrations build them and a test checks that they agree.

The ledger is a journal: `observations` (every sighting of money, raw, once per source and key), `movements` (one per
real movement of money, signed), `coverage` (which movements a shop's export has shown), and `charges` (installments,
fees, default interest, collection costs). The balance every command reads is computed from charges and movements (dunning.journal.balance).
"""
from __future__ import annotations

import sqlalchemy as sa

PREPARED, SENDING, SENT, FAILED = "prepared", "sending", "sent", "failed"

metadata = sa.MetaData()
campaigns = sa.Table(
    "campaigns", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("stage", sa.String(50), nullable=False),
    sa.Column("channel", sa.String(50), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
)
reminders = sa.Table(
    "reminders", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False, index=True),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("stage", sa.String(50), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=False),
    sa.Column("last_name", sa.String(200), nullable=False),
    sa.Column("language", sa.String(10), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("open_amount", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("payment_method", sa.String(100), nullable=False, server_default=""),
    sa.Column("days_overdue", sa.Integer, nullable=False, server_default="0"),
    sa.Column("token_id", sa.String(64), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("merge_fields", sa.Text, nullable=False, server_default="{}"),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message_id", sa.String(300)),
    sa.Column("error", sa.Text),
    sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sending_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("reminded_on", sa.Date),
    sa.Column("claimed_by", sa.String(300)),
    sa.Column("about", sa.String(100), nullable=False, server_default=""),
    sa.Column("fees_open", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("interest", sa.BigInteger, nullable=False, server_default="0"),  # default interest this reminder asks
    sa.Column("costs", sa.BigInteger, nullable=False, server_default="0"),  # a lump sum or collection costs it asks
    sa.Column("interest_open", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("costs_open", sa.BigInteger, nullable=False, server_default="0"),
    # one letter for a customer's orders: the reminders of a letter share this key; the first carries the message
    sa.Column("letter", sa.String(300), nullable=False, server_default="", index=True),
    sa.Column("postal_address", sa.Text, nullable=False, server_default=""),  # JSON (dunning.postal), "" for none
    sa.UniqueConstraint("order_id", "stage", "about", name="uq_reminders_order_stage_about"),
)
sa.Index("ix_reminders_order_reminded_on", reminders.c.order_id, reminders.c.reminded_on)  # an order's last reminder
orders = sa.Table(
    "orders", metadata,
    sa.Column("order_key", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.String(200), nullable=False, unique=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=False),
    sa.Column("last_name", sa.String(200), nullable=False),
    sa.Column("language", sa.String(10), nullable=False),
    sa.Column("product_name", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(30), nullable=False, server_default=""),
    sa.Column("seen_on", sa.Date, nullable=False),  # the date of the shop's latest view of the order
    sa.Column("open_only", sa.Boolean, nullable=False, server_default=sa.false()),  # the export states no paid amounts
    sa.Column("details_digest", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("view_digest", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_orders_email_lower", sa.func.lower(orders.c.email))  # a customer's orders, whatever the address's case
charges = sa.Table(
    "charges", metadata,
    sa.Column("order_key", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(12), primary_key=True),  # installment | fee | interest | costs
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),  # installment number; a fee: its reminder's id
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("shop_open", sa.BigInteger),  # an installment: what the shop's latest export said is open
)
observations = sa.Table(
    "observations", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source", sa.String(20), nullable=False),  # file | webhook | statement | export | merchant
    sa.Column("source_key", sa.String(400), nullable=False),
    sa.Column("origin", sa.String(300), nullable=False, server_default=""),  # file:<name>, webhook, statement:<name>, ...
    sa.Column("order_id", sa.String(200), nullable=False, server_default=""),
    sa.Column("order_key", sa.Integer, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # signed: money in is positive
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("reference", sa.String(300), nullable=False, server_default="", index=True),  # provider id, end-to-end id
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("movement_id", sa.Integer, index=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("source", "source_key", name="uq_observations_source_key"),
)
movements = sa.Table(
    "movements", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_key", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),  # payment | refund | chargeback | return | reversal | moved
    sa.Column("amount", sa.BigInteger, nullable=False),  # signed
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),  # the source of the observation that made it
    sa.Column("origin", sa.String(300), nullable=False, server_default=""),
    sa.Column("covers_from", sa.Date),  # made from a shop's export: the earliest date a payment it stands for may have
    sa.Column("reverses", sa.Integer),  # the movement it reverses, or moves to another order
    sa.Column("made_by", sa.Integer),  # made by a shop's export: the observation (a drop, a rise) it stands for
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
coverage = sa.Table(
    "coverage", metadata,
    sa.Column("observation_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("movement_id", sa.Integer, primary_key=True, autoincrement=False, index=True),
)
ledger_version = sa.Table(
    "ledger_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)
visits = sa.Table(
    "visits", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
)
method_requests = sa.Table(
    "method_requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("wanted", sa.String(50), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True)),
)
decisions = sa.Table(
    "decisions", metadata,
    sa.Column("order_id", sa.String(200), primary_key=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_open", sa.BigInteger, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
statement_entries = sa.Table(
    "statement_entries", metadata,
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
    sa.Column("end_to_end", sa.String(300), nullable=False, server_default=""),
    sa.Column("account", sa.String(50), nullable=False, server_default=""),
    sa.Column("bank_ref", sa.String(300), nullable=False, server_default=""),  # the bank's own reference (not unique)
    sa.Column("charges", sa.BigInteger, nullable=False, server_default="0"),  # what the bank kept of a return
    sa.Column("problem", sa.Text, nullable=False, server_default=""),  # why the entry cannot be counted
    sa.Column("order_id", sa.String(200), nullable=False, server_default=""),
    sa.Column("matched_by", sa.String(20), nullable=False, index=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
attempts = sa.Table(
    "attempts", metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
merchant_sessions = sa.Table(
    "merchant_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # a digest of the session's secret, which only the cookie holds
    sa.Column("password_tag", sa.String(64), nullable=False),  # a digest of the password hash it was opened with
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)
webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("signature", sa.String(128), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)
