"""The store: campaigns and reminders in SQLite (embedded default) or PostgreSQL (by URL).

The schema is created and changed by the Alembic migrations in dunning/migrations; the tables
below mirror it for queries. Every change of a reminder's state is its own committed
transaction, so a crash loses at most the step that was under way.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, OperationalError

from dunning.errors import InputError

URL_VARIABLE = "DUNNING_DATABASE_URL"
PREPARED, SENDING, SENT, FAILED = "prepared", "sending", "sent", "failed"

metadata = sa.MetaData()
campaigns = sa.Table(
    "campaigns", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("stage", sa.String(50), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
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
    sa.UniqueConstraint("order_id", "stage", name="uq_reminders_order_stage"),
)

snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("stage", sa.String(50), nullable=False),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("payment_method", sa.String(100), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("open_amount", sa.BigInteger, nullable=False),
    sa.Column("days_overdue", sa.Integer, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("source", "as_of", "order_id", name="uq_snapshots_source_date_order"),
)
payments = sa.Table(
    "payments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("payment_id", sa.String(300), nullable=False, unique=True),
    sa.Column("order_id", sa.String(200), nullable=False, index=True),
    sa.Column("paid_at", sa.Date, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("flag", sa.String(50), nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", sa.String(200), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=False),
    sa.Column("last_name", sa.String(200), nullable=False),
    sa.Column("language", sa.String(10), nullable=False),
    sa.Column("product_name", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("installments", sa.Text, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
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
)
webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("signature", sa.String(128), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)
SNAPSHOT_COLUMNS = ["source", "kind", "as_of", "order_id", "stage", "reason", "payment_method", "currency", "open_amount", "days_overdue"]
PAYMENT_COLUMNS = ["payment_id", "order_id", "paid_at", "amount", "currency", "kind", "source", "flag"]


def url_for(workspace: Path, configured: str | None = None) -> str:
    """DUNNING_DATABASE_URL, else the configured URL, else an SQLite file in the workspace."""
    return os.environ.get(URL_VARIABLE) or configured or f"sqlite:///{(workspace / 'dunning.sqlite3').resolve()}"


def now() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    """Campaigns and reminders; opening it brings the schema up to date."""

    def __init__(self, url: str):
        try:
            # A networked database may drop idle connections; an embedded SQLite file cannot.
            self.engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        except (ArgumentError, ImportError) as exc:
            raise InputError(f"store URL {_redacted(url)} cannot be used: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self.migrate()
        except OperationalError as exc:
            raise InputError(f"cannot open the store at {_redacted(url)}: {exc.orig}") from None

    def migrate(self) -> None:
        """Run the migrations up to the newest (a no-op when the schema is current)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def campaign(self, name: str) -> sa.Row | None:
        with self.engine.connect() as db:
            return db.execute(sa.select(campaigns).where(campaigns.c.name == name)).first()

    def create_campaign(self, name: str, stage: str, channel: str, as_of: date, definition: str) -> int:
        with self.engine.begin() as db:
            return db.execute(campaigns.insert().values(
                name=name, stage=stage, channel=channel, as_of=as_of, definition=definition, prepared_at=now(),
            )).inserted_primary_key[0]

    def add_reminders(self, campaign_id: int, rows: list[dict]) -> int:
        """Record prepared reminders; an order already holding this stage is skipped. Returns how many were added."""
        rows = [{**row, "campaign_id": campaign_id, "status": PREPARED} for row in rows]
        return self._insert_new(reminders, rows, ["order_id", "stage"], stamp_column="prepared_at")

    def reminded(self) -> pd.DataFrame:
        """Every order and stage the store holds, with status and when it was sent."""
        query = sa.select(reminders.c.order_id, reminders.c.stage, reminders.c.status, reminders.c.sent_at)
        with self.engine.connect() as db:
            return pd.DataFrame(db.execute(query).all(), columns=["order_id", "stage", "status", "sent_at"])

    def last_reminded(self) -> pd.DataFrame:
        """order_id, reminded_at: the latest reminder sent per order (for the cooldown)."""
        query = (sa.select(reminders.c.order_id, sa.func.max(reminders.c.sent_at).label("reminded_at"))
                 .where(reminders.c.status == SENT).group_by(reminders.c.order_id))
        with self.engine.connect() as db:
            frame = pd.DataFrame(db.execute(query).all(), columns=["order_id", "reminded_at"])
        frame["reminded_at"] = pd.to_datetime(frame["reminded_at"], utc=True).dt.tz_localize(None)
        return frame

    def pending(self, campaign_id: int) -> list[sa.Row]:
        """Reminders still to send, in order: those in flight when a run stopped come first."""
        query = (sa.select(reminders).where(reminders.c.campaign_id == campaign_id, reminders.c.status.in_((SENDING, PREPARED)))
                 .order_by(sa.case((reminders.c.status == SENDING, 0), else_=1), reminders.c.id))
        with self.engine.connect() as db:
            return list(db.execute(query).all())

    def reminders_of(self, campaign_id: int, limit: int | None = None) -> list[sa.Row]:
        query = sa.select(reminders).where(reminders.c.campaign_id == campaign_id).order_by(reminders.c.id).limit(limit)
        with self.engine.connect() as db:
            return list(db.execute(query).all())

    def mark_sending(self, reminder_id: int) -> None:
        self._update(reminder_id, status=SENDING, sending_at=now(), attempts=reminders.c.attempts + 1)

    def mark_sent(self, reminder_id: int, message_id: str) -> None:
        self._update(reminder_id, status=SENT, sent_at=now(), message_id=message_id, error=None)

    def mark_failed(self, reminder_id: int, error: str) -> None:
        self._update(reminder_id, status=FAILED, error=error)

    def counts(self, campaign_id: int) -> dict[str, int]:
        query = (sa.select(reminders.c.status, sa.func.count()).where(reminders.c.campaign_id == campaign_id)
                 .group_by(reminders.c.status))
        with self.engine.connect() as db:
            return {status: n for status, n in db.execute(query).all()}

    def add_snapshots(self, rows: list[dict]) -> int:
        """Record what was open per order as of a date (once per source, date and order). Returns how many are new."""
        return self._insert_new(snapshots, rows, ["source", "as_of", "order_id"])

    def add_payments(self, rows: list[dict]) -> int:
        """Record payments; a payment id seen before is skipped, so importing twice counts once."""
        return self._insert_new(payments, rows, ["payment_id"])

    def snapshots_frame(self) -> pd.DataFrame:
        """Every snapshot; `as_of` as datetime64."""
        return self._frame(snapshots, SNAPSHOT_COLUMNS)

    def payments_frame(self) -> pd.DataFrame:
        """Every payment; `paid_at` as datetime64."""
        return self._frame(payments, PAYMENT_COLUMNS)

    def visits_frame(self) -> pd.DataFrame:
        """Every visit of a manage page: order_id, visited_at (datetime64, UTC)."""
        return self._frame(visits, ["order_id", "visited_at"])

    def _frame(self, table: sa.Table, columns: list[str]) -> pd.DataFrame:
        """A table as a frame, typed the same whether or not it has rows; dates travel as ISO text and
        are converted in one vectorised step (far faster than a date object per row)."""
        selected = [sa.cast(table.c[c], sa.String).label(c) if isinstance(table.c[c].type, sa.Date) else table.c[c]
                    for c in columns]
        sql = str(sa.select(*selected).compile(dialect=self.engine.dialect))
        with self.engine.connect() as db:
            cursor = db.connection.dbapi_connection.cursor()  # plain tuples: a million rows load in a second
            try:
                cursor.execute(sql)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        frame = pd.DataFrame.from_records(rows, columns=columns)
        for column in columns:
            kind = table.c[column].type
            if isinstance(kind, sa.DateTime):
                frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
            elif isinstance(kind, sa.Date):
                frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
            elif isinstance(kind, (sa.BigInteger, sa.Integer)):
                frame[column] = frame[column].astype("int64")
        return frame

    def _insert_new(self, table: sa.Table, rows: list[dict], keys: list[str], stamp_column: str = "recorded_at") -> int:
        """Insert rows whose keys are new (the others are left as they are); returns how many were added."""
        if not rows:
            return 0
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)
        insert = insert.on_conflict_do_nothing(index_elements=keys)
        stamp = now()
        count = sa.select(sa.func.count()).select_from(table)
        with self.engine.begin() as db:
            before = db.execute(count).scalar_one()
            for start in range(0, len(rows), 5000):
                db.execute(insert, [{**row, stamp_column: stamp} for row in rows[start:start + 5000]])
            return db.execute(count).scalar_one() - before

    def save_orders(self, rows: list[dict]) -> None:
        """Upsert what a manage link shows about each order (the newest details win)."""
        if not rows:
            return
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(orders)
        stamp = now()
        values = [{**row, "updated_at": stamp} for row in rows]
        upsert = insert.on_conflict_do_update(
            index_elements=["order_id"],
            set_={c.name: insert.excluded[c.name] for c in orders.columns if c.name != "order_id"},
        )
        with self.engine.begin() as db:
            for start in range(0, len(values), 5000):
                db.execute(upsert, values[start:start + 5000])

    def order(self, order_id: str) -> sa.Row | None:
        with self.engine.connect() as db:
            return db.execute(sa.select(orders).where(orders.c.order_id == order_id)).first()

    def order_payments(self, order_id: str) -> list[sa.Row]:
        """The order's recorded payments (all sources), oldest first."""
        query = sa.select(payments).where(payments.c.order_id == order_id).order_by(payments.c.paid_at, payments.c.id)
        with self.engine.connect() as db:
            return list(db.execute(query).all())

    def record_visit(self, order_id: str) -> None:
        with self.engine.begin() as db:
            db.execute(visits.insert().values(order_id=order_id, visited_at=now()))

    def visits_of(self, order_id: str) -> int:
        with self.engine.connect() as db:
            return db.execute(sa.select(sa.func.count()).where(visits.c.order_id == order_id)).scalar_one()

    def add_method_request(self, order_id: str, wanted: str, message: str) -> None:
        with self.engine.begin() as db:
            db.execute(method_requests.insert().values(order_id=order_id, wanted=wanted, message=message, requested_at=now()))

    def method_requests_of(self, order_id: str) -> list[sa.Row]:
        with self.engine.connect() as db:
            return list(db.execute(sa.select(method_requests).where(method_requests.c.order_id == order_id)).all())

    def first_sighting(self, signature: str) -> bool:
        """True the first time a webhook signature is seen; False for a replay."""
        return self._insert_new(webhook_events, [{"signature": signature}], ["signature"], stamp_column="received_at") == 1

    def _update(self, reminder_id: int, **values) -> None:
        with self.engine.begin() as db:
            db.execute(reminders.update().where(reminders.c.id == reminder_id).values(**values))


def _sqlite_pragmas(connection, _record) -> None:
    """WAL and a busy timeout let two processes (a send and an import) write the same file safely."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL (SQLite's advice for WAL): safe against a crashed process, which is what
    # resuming a send relies on; only the last commits could be lost if the machine loses power.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _redacted(url: str) -> str:
    """A URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"
