"""The ledger becomes a journal: observations, movements, charges, one balance.

- orders get an integer key (`order_key`), the shop's status, the date of its latest view (`seen_on`, was `as_of`)
  and digests that tell a changed order from one the journal holds; their `fee` goes (a look wrote it).
- installments become charges (`kind` installment; `shop_open` what the export said is open); every reminder that
  was sent with a fee charges it (`kind` fee), the only fees there are.
- payments become observations (once per source and key) and movements (one per real movement of money): a direct
  payment is one of each; a drop in an export counts, as before, only where no direct payment explains it; a
  payment for an order the ledger did not know waits, unmatched, for the order; `left:` rows are noted.
- reminders gain `fees_open`: the fees charged earlier and still open when the reminder was prepared.
- statement entries gain `end_to_end`: the payer's end-to-end id, which another source may name too.
- merchant_sessions: the dashboard's sessions, kept in the store so that signing out or a new password ends them.

Revision ID: 0008
Revises: 0007
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    stamp = datetime.now(timezone.utc)
    op.create_table(
        "orders_journal",
        sa.Column("order_key", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.String(200), nullable=False, unique=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("product_name", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(30), nullable=False, server_default=""),
        sa.Column("seen_on", sa.Date, nullable=False),
        sa.Column("open_only", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("details_digest", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("view_digest", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "charges",
        sa.Column("order_key", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(12), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("shop_open", sa.BigInteger),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_key", sa.String(400), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False, server_default=""),
        sa.Column("order_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("order_key", sa.Integer, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("reference", sa.String(300), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("movement_id", sa.Integer, index=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "source_key", name="uq_observations_source_key"),
    )
    op.create_table(
        "movements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_key", sa.Integer, nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False, server_default=""),
        sa.Column("covers_from", sa.Date),
        sa.Column("reverses", sa.Integer),
        sa.Column("made_by", sa.Integer),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "coverage",
        sa.Column("observation_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("movement_id", sa.Integer, primary_key=True, autoincrement=False, index=True),
    )
    op.create_table(
        "ledger_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    bind.execute(sa.text("INSERT INTO ledger_version (id, version) VALUES (1, 0)"))
    op.create_table(
        "merchant_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("password_tag", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("fees_open", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("statement_entries") as batch:
        batch.add_column(sa.Column("end_to_end", sa.String(300), nullable=False, server_default=""))

    old = bind.execute(sa.text("SELECT order_id, email, first_name, last_name, language, product_name, currency, as_of, "
                               "updated_at FROM orders ORDER BY order_id")).all()
    key = {row.order_id: n for n, row in enumerate(old, start=1)}
    if old:
        bind.execute(sa.text(
            "INSERT INTO orders_journal (order_key, order_id, email, first_name, last_name, language, product_name, currency, "
            "status, seen_on, open_only, details_digest, view_digest, updated_at) VALUES (:k, :o, :e, :f, :l, :g, :p, :c, '', "
            ":s, :x, 0, 0, :u)"),
            [{"k": key[r.order_id], "o": r.order_id, "e": r.email, "f": r.first_name, "l": r.last_name, "g": r.language,
              "p": r.product_name, "c": r.currency, "s": r.as_of, "x": False, "u": r.updated_at or stamp} for r in old])
    installments = bind.execute(sa.text("SELECT order_id, seq, due_date, amount_due, amount_open FROM installments")).all()
    charges = [{"k": key[i.order_id], "kind": "installment", "s": i.seq, "d": i.due_date, "a": i.amount_due, "o": i.amount_open}
               for i in installments if i.order_id in key]
    fees = bind.execute(sa.text("SELECT id, order_id, reminded_on, fee FROM reminders WHERE status = 'sent' AND fee > 0 "
                                "AND reminded_on IS NOT NULL AND about = ''")).all()
    charges += [{"k": key[f.order_id], "kind": "fee", "s": f.id, "d": f.reminded_on, "a": f.fee, "o": None}
                for f in fees if f.order_id in key]
    if charges:
        bind.execute(sa.text("INSERT INTO charges (order_key, kind, seq, due_on, amount, shop_open) "
                             "VALUES (:k, :kind, :s, :d, :a, :o)"), charges)
    _payments(bind, key, stamp)
    op.drop_table("installments")
    op.drop_table("payments")
    op.drop_table("orders")
    op.rename_table("orders_journal", "orders")


def _payments(bind, key: dict, stamp: datetime) -> None:
    """Each payment row as an observation; a direct one as its movement, a drop only for what no direct payment explains."""
    rows = bind.execute(sa.text("SELECT payment_id, order_id, paid_at, amount, currency, kind, source, flag, recorded_at "
                                "FROM payments ORDER BY order_id, paid_at, payment_id")).all()
    direct_total: dict[str, int] = {}
    for r in rows:
        if r.kind == "payment":
            direct_total[r.order_id] = direct_total.get(r.order_id, 0) + r.amount
    dropped: dict[str, int] = {}
    observed, moved = [], []
    for n, r in enumerate(rows, start=1):
        source, source_key = _identity(r)
        held = r.order_id in key
        status, movement_id, amount_moved = "counted", None, r.amount
        if r.kind == "left_list":
            status = "noted"
        elif not held:
            status = "unmatched"
        elif r.kind == "drop":
            before = dropped.get(r.order_id, 0)
            dropped[r.order_id] = before + r.amount
            explained = min(max(direct_total.get(r.order_id, 0) - before, 0), r.amount)
            amount_moved = r.amount - explained
            movement_id = n if amount_moved > 0 else None
            status = "counted"
        else:
            movement_id = n
        kind = {"left_list": "left_list", "drop": "drop"}.get(r.kind, "return" if r.amount < 0 else "payment")
        observed.append({"i": n, "s": source, "k": source_key, "g": r.source, "o": r.order_id, "ok": key.get(r.order_id),
                         "kind": kind, "a": r.amount, "c": r.currency, "d": r.paid_at, "r": source_key if source in ("file", "webhook") else "",
                         "st": status, "m": None if r.kind == "drop" else movement_id, "n": r.flag or "", "t": r.recorded_at or stamp})
        if movement_id is not None:
            moved.append({"i": n, "ok": key[r.order_id], "kind": "payment" if amount_moved > 0 else "return", "a": amount_moved,
                          "c": r.currency, "d": r.paid_at, "s": "export" if r.kind == "drop" else source, "g": r.source,
                          "b": n if r.kind == "drop" else None, "t": r.recorded_at or stamp})
    if observed:
        bind.execute(sa.text(
            "INSERT INTO observations (id, source, source_key, origin, order_id, order_key, kind, amount, currency, occurred_on, "
            "reference, status, movement_id, note, recorded_at) VALUES (:i, :s, :k, :g, :o, :ok, :kind, :a, :c, :d, :r, :st, :m, "
            ":n, :t)"), observed)
    if moved:
        bind.execute(sa.text(
            "INSERT INTO movements (id, order_key, kind, amount, currency, occurred_on, source, origin, covers_from, reverses, "
            "made_by, note, recorded_at) VALUES (:i, :ok, :kind, :a, :c, :d, :s, :g, NULL, NULL, :b, '', :t)"), moved)


def _identity(row) -> tuple[str, str]:
    """The source and key an old payment row is known by now."""
    pid = row.payment_id
    for prefix, source in (("webhook:", "webhook"), ("statement:", "statement"), ("drop:", "export"), ("left:", "export")):
        if pid.startswith(prefix):
            return source, pid if source == "export" else pid.removeprefix(prefix)
    if pid.startswith("file:") and pid.count(":") >= 5:  # derived from a row without an id: order, date, amount, place
        occurrence = pid.rsplit(":", 1)[1]
        return "file", f"row:{row.order_id}|{row.paid_at}|{row.amount}|{row.currency}|payment|{occurrence}"
    return "file", pid


def downgrade() -> None:
    raise NotImplementedError("the journal migration is one way: restore a backup of the store to go back")
