"""The store: the ledger's tables in SQLite (embedded default) or PostgreSQL (by URL).

The schema (dunning/schema.py) is created and changed by the Alembic migrations in
dunning/migrations. Every change of a reminder's state is its own committed transaction, so a
crash loses at most the step that was under way.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, OperationalError

from dunning.errors import InputError

from dunning.schema import (  # noqa: F401  (the states are part of the store's face)
    FAILED, PAYMENT_COLUMNS, PREPARED, SENDING, SENT, campaigns, installments, method_requests, orders, payments, reminders,
    statement_entries, visits, webhook_events,
)

URL_VARIABLE = "DUNNING_DATABASE_URL"
MIGRATION_LOCK = 7_341_905_100  # a PostgreSQL advisory lock id: one process migrates at a time
HEAD_REVISION = "0007"  # the newest migration (dunning/migrations/versions): a store at it needs none


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
            _owner_only(self.engine.url.database)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self.migrate()
        except OperationalError as exc:
            raise InputError(f"cannot open the store at {_redacted(url)}: {exc.orig}") from None

    def migrate(self) -> None:
        """Run the migrations up to the newest (a no-op when the schema is current).

        One process migrates at a time (PostgreSQL: an advisory lock; SQLite: the write lock), and the
        others then find the schema current. On SQLite foreign keys are off while a migration rebuilds
        a table that others refer to, as SQLite's documentation advises. A store already at the newest
        revision is seen in one query, without loading the migration tool: every command opens the store."""
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
        embedded = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection:
            if embedded:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            with connection.begin():
                if embedded:  # the write lock first: Python's sqlite3 would run the DDL outside any transaction
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            if embedded:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()

    def revision(self) -> str | None:
        """The revision the store's schema is at (None for a new store)."""
        with self.engine.connect() as db:
            if not sa.inspect(db).has_table("alembic_version"):
                return None
            return db.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def campaign(self, name: str) -> sa.Row | None:
        with self.engine.connect() as db:
            return db.execute(sa.select(campaigns).where(campaigns.c.name == name)).first()

    def create_campaign(self, name: str, stage: str, channel: str, as_of: date, definition: str) -> int:
        with self.engine.begin() as db:
            return db.execute(campaigns.insert().values(
                name=name, stage=stage, channel=channel, as_of=as_of, definition=definition, prepared_at=now(),
            )).inserted_primary_key[0]

    def add_reminders(self, campaign_id: int, rows: list[dict], handed_over_on: date | None = None) -> int:
        """Record prepared reminders, or (with `handed_over_on`) reminders handed to a newsletter tool, which
        count as sent that day; an order already holding this stage is skipped. Returns how many were added."""
        done = {"status": SENT, "reminded_on": handed_over_on, "sent_at": now()} if handed_over_on else {"status": PREPARED}
        rows = [{"about": "", **row, "campaign_id": campaign_id, **done} for row in rows]
        return self._insert_new(reminders, rows, ["order_id", "stage", "about"], stamp_column="prepared_at")

    def reminded(self) -> pd.DataFrame:
        """Every order, stage and subject (`about`) the store holds a message for, with status and when it was sent."""
        query = sa.select(reminders.c.order_id, reminders.c.stage, reminders.c.about, reminders.c.status, reminders.c.sent_at)
        with self.engine.connect() as db:
            return pd.DataFrame(db.execute(query).all(), columns=["order_id", "stage", "about", "status", "sent_at"])

    def history(self, order_id: str | None = None) -> pd.DataFrame:
        """order_id, stage, about, reminded_on: every message sent or handed over, from any channel (or one order's).
        `about` is "" for a dunning stage, `due:<date>` for a notice before a due date, `payment:<id>` for a thanks."""
        sent = reminders.c.status == SENT
        frame = self.frame(reminders, ["order_id", "stage", "about", "reminded_on"],
                           sent if order_id is None else sa.and_(sent, reminders.c.order_id == order_id))
        return frame.dropna(subset=["reminded_on"]).reset_index(drop=True)

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

    def claim(self, reminder: sa.Row, sender: str) -> bool:
        """Move a prepared reminder (or one left in flight by a sender that died) to sending for `sender`.

        A conditional update: of two senders at once, exactly one wins each reminder; the loser skips it."""
        return self.step(None, reminder, sender)

    def step(self, outcome: tuple[int, dict] | None, reminder: sa.Row | None, sender: str) -> bool:
        """One commit for a sender's step: how its last reminder went (`outcome`: its id and `sent()` or
        `failed()`), and the claim of its next one, `reminder` (a conditional update, as `claim`).
        Returns whether the claim was won. The statements are built once: a send run takes thousands of steps."""
        with self.engine.begin() as db:
            if outcome is not None:
                reminder_id, values = outcome
                db.execute(_SETTLE[values["status"]], {"reminder_id": reminder_id, **{f"new_{k}": v for k, v in values.items()}})
            if reminder is None:
                return False
            claim = _CLAIM_FREE if reminder.claimed_by is None else _CLAIM_HELD
            return db.execute(claim, {"reminder_id": reminder.id, "was": reminder.status, "held_by": reminder.claimed_by,
                                      "at": now(), "sender": sender}).rowcount == 1

    def mark_sent(self, reminder_id: int, message_id: str, reminded_on: date) -> None:
        self._update(reminder_id, **sent(message_id, reminded_on))

    def mark_failed(self, reminder_id: int, error: str) -> None:
        self._update(reminder_id, **failed(error))

    def mark_handed(self, reminder_ids: list[int], external_id: str) -> None:
        """Note the external batch (a Mailchimp campaign) the reminders in flight are about to go out in."""
        with self.engine.begin() as db:
            db.execute(reminders.update().where(reminders.c.id.in_(reminder_ids), reminders.c.status == SENDING)
                       .values(message_id=external_id))

    def release(self, reminder_id: int, why: str) -> None:
        """Put a reminder in flight back in the queue for the next run."""
        self._update(reminder_id, status=PREPARED, claimed_by=None, error=why)

    def counts(self, campaign_id: int) -> dict[str, int]:
        query = (sa.select(reminders.c.status, sa.func.count()).where(reminders.c.campaign_id == campaign_id)
                 .group_by(reminders.c.status))
        with self.engine.connect() as db:
            return {status: n for status, n in db.execute(query).all()}

    def add_payments(self, rows: list[dict]) -> int:
        """Record payments; a payment id seen before is skipped, so importing twice counts once."""
        return self._insert_new(payments, rows, ["payment_id"])

    def add_statement_entries(self, rows: list[dict]) -> int:
        """Record statement entries; an entry whose bank reference was seen before is skipped."""
        return self._insert_new(statement_entries, rows, ["entry_ref"])

    def statement_entries_frame(self, entry_ref: str | None = None) -> pd.DataFrame:
        """Every statement entry with how it matched (or the one with this bank reference)."""
        return self.frame(statement_entries, [c.name for c in statement_entries.c if c.name != "recorded_at"],
                          None if entry_ref is None else statement_entries.c.entry_ref == entry_ref)

    def settle_entry(self, entry_ref: str, order_id: str, matched_by: str, was: str) -> bool:
        """Move one entry from `was` to `matched_by` for `order_id` (a conditional update: exactly one caller wins)."""
        update = (statement_entries.update().where(statement_entries.c.entry_ref == entry_ref, statement_entries.c.matched_by == was)
                  .values(order_id=order_id, matched_by=matched_by))
        with self.engine.begin() as db:
            return db.execute(update).rowcount == 1

    def payments_frame(self) -> pd.DataFrame:
        """Every payment; `paid_at` as datetime64."""
        return self.frame(payments, PAYMENT_COLUMNS)

    def visits_frame(self, order_id: str | None = None) -> pd.DataFrame:
        """Every visit of a manage page (or of one order's): order_id, visited_at (datetime64, UTC)."""
        return self.frame(visits, ["order_id", "visited_at"], None if order_id is None else visits.c.order_id == order_id)

    def frame(self, table: sa.Table, columns: list[str], where: sa.ColumnElement | None = None) -> pd.DataFrame:
        """A table as a frame, typed the same whether or not it has rows; dates travel as ISO text and
        are converted in one vectorised step (far faster than a date object per row)."""
        selected = [sa.cast(table.c[c], sa.String).label(c) if isinstance(table.c[c].type, sa.Date) else table.c[c]
                    for c in columns]
        query = sa.select(*selected)
        compiled = (query if where is None else query.where(where)).compile(dialect=self.engine.dialect)
        params = compiled.params  # bound, never pasted into the SQL: a where clause may hold what a request sent
        args = tuple(params[name] for name in compiled.positiontup) if compiled.positiontup else params
        with self.engine.connect() as db:
            cursor = db.connection.dbapi_connection.cursor()  # plain tuples: a million rows load in a second
            try:
                cursor.execute(str(compiled), args)
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
        with self.engine.begin() as db:
            return insert_new(db, table, rows, keys, stamp_column)

    def order(self, order_id: str) -> sa.Row | None:
        with self.engine.connect() as db:
            return db.execute(_ORDER, {"order_id": order_id}).first()

    def order_payments(self, order_id: str) -> list[sa.Row]:
        """The order's recorded payments (all sources), oldest first."""
        with self.engine.connect() as db:
            return list(db.execute(_PAYMENTS, {"order_id": order_id}).all())

    def order_page(self, order_id: str) -> tuple[sa.Row | None, list[sa.Row], list[sa.Row], sa.Row | None]:
        """What one order's page shows, read on one connection: the order, its installments, its payments, and its
        latest dunning reminder (stage, reminded_on); statements built once, not per request."""
        with self.engine.connect() as db:
            row = db.execute(_ORDER, {"order_id": order_id}).first()
            if row is None:
                return None, [], [], None
            return (row, list(db.execute(_INSTALLMENTS, {"order_id": order_id}).all()),
                    list(db.execute(_PAYMENTS, {"order_id": order_id}).all()), db.execute(_LAST_REMINDER, {"order_id": order_id}).first())

    def record_visit(self, order_id: str) -> None:
        self.record_visits([{"order_id": order_id, "visited_at": now()}])

    def record_visits(self, rows: list[dict]) -> None:
        """Visits of manage pages (order_id, visited_at), in one statement."""
        with self.engine.begin() as db:
            db.execute(_VISIT, rows)

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
        """Change one reminder's state in a commit of its own."""
        with self.engine.begin() as db:
            db.execute(reminders.update().where(reminders.c.id == reminder_id).values(**values))


_ORDER = sa.select(orders).where(orders.c.order_id == sa.bindparam("order_id"))
_INSTALLMENTS = sa.select(installments).where(installments.c.order_id == sa.bindparam("order_id"))
_PAYMENTS = (sa.select(payments).where(payments.c.order_id == sa.bindparam("order_id"))
             .order_by(payments.c.paid_at, payments.c.id))
_LAST_REMINDER = (sa.select(reminders.c.stage, reminders.c.reminded_on)
                  .where(reminders.c.order_id == sa.bindparam("order_id"), reminders.c.status == SENT,
                         reminders.c.reminded_on.is_not(None), reminders.c.about == "")
                  .order_by(reminders.c.reminded_on.desc(), reminders.c.id.desc()).limit(1))
_SETTLE = {status: reminders.update().where(reminders.c.id == sa.bindparam("reminder_id"))
           .values({column: sa.bindparam(f"new_{column}") for column in columns})
           for status, columns in ((SENT, ("status", "sent_at", "message_id", "error", "reminded_on")), (FAILED, ("status", "error")))}
_CLAIM = (reminders.update().where(reminders.c.id == sa.bindparam("reminder_id"), reminders.c.status == sa.bindparam("was"))
          .values(status=SENDING, sending_at=sa.bindparam("at"), attempts=reminders.c.attempts + 1, claimed_by=sa.bindparam("sender")))
_CLAIM_FREE = _CLAIM.where(reminders.c.claimed_by.is_(None))
_CLAIM_HELD = _CLAIM.where(reminders.c.claimed_by == sa.bindparam("held_by"))
_VISIT = visits.insert().values(order_id=sa.bindparam("order_id"), visited_at=sa.bindparam("visited_at"))


def sent(message_id: str, reminded_on: date) -> dict:
    """A reminder's new values once it went out."""
    return {"status": SENT, "sent_at": now(), "message_id": message_id, "error": None, "reminded_on": reminded_on}


def failed(error: str) -> dict:
    """A reminder's new values once its delivery failed."""
    return {"status": FAILED, "error": error}


def insert_new(db: sa.Connection, table: sa.Table, rows: list[dict] | pd.DataFrame, keys: list[str],
               stamp_column: str | None = "recorded_at", update: list[str] | None = None) -> int:
    """INSERT ... ON CONFLICT DO NOTHING for many rows (dicts, or a frame's columns); returns how many of them this
    call added (with `update`, the columns a row already there takes from the new one: an upsert).

    The database decides what is new (its unique constraint), so two processes inserting the same
    rows at once add each row once, and each learns how many were its own (the driver's row count,
    summed over the batch, inside this transaction). A frame goes in column by column, dates converted once
    per column: a hundred thousand orders' installments in well under a second."""
    columns = _columns(rows)
    if not columns or not len(next(iter(columns.values()))):
        return 0
    count = len(next(iter(columns.values())))
    insert = (postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert)(table)
    names = [*columns, *([stamp_column] if stamp_column else [])]
    statement = insert.values({c: sa.bindparam(c) for c in names})
    statement = (statement.on_conflict_do_update(index_elements=keys, set_={c: insert.excluded[c] for c in update}) if update
                 else statement.on_conflict_do_nothing(index_elements=keys))
    compiled = statement.compile(dialect=db.dialect)
    sqlite_order = compiled.positiontup or []
    convert = _sqlite_values if sqlite_order else _python_values
    if stamp_column:  # one time for every row, converted once
        columns[stamp_column] = convert(table.c[stamp_column].type, [now()]) * count
    if sqlite_order:  # SQLite (qmark): values in the statement's order, dates as SQLAlchemy stores them
        values = list(zip(*(convert(table.c[name].type, columns[name]) for name in sqlite_order)))
    else:  # PostgreSQL: psycopg adapts Python values itself
        lists = [convert(table.c[name].type, columns[name]) for name in names]
        values = [dict(zip(names, row)) for row in zip(*lists)]
    cursor = db.connection.dbapi_connection.cursor()
    try:
        added = 0
        for start in range(0, count, 20_000):
            cursor.executemany(str(compiled), values[start:start + 20_000])
            added += max(cursor.rowcount, 0)
    finally:
        cursor.close()
    return added


def _columns(rows: list[dict] | pd.DataFrame) -> dict[str, list | pd.Series]:
    if isinstance(rows, pd.DataFrame):
        return {name: rows[name] for name in rows.columns}
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def _python_values(kind: sa.types.TypeEngine, values: list | pd.Series) -> list:
    """A column as Python values a driver binds: dates as dates, missing values as None."""
    if not isinstance(values, pd.Series):
        return values
    if pd.api.types.is_datetime64_any_dtype(values):
        return (values.dt.date if isinstance(kind, sa.Date) else values.dt.to_pydatetime()).astype(object).where(values.notna(), None).tolist()
    return values.astype(object).where(values.notna(), None).tolist()


def _sqlite_values(kind: sa.types.TypeEngine, values: list | pd.Series) -> list:
    """A column's values as SQLAlchemy stores them in SQLite: dates as ISO text, times in UTC without an offset."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d" if isinstance(kind, sa.Date) else "%Y-%m-%d %H:%M:%S.%f")
        return text.astype(object).where(values.notna(), None).tolist()
    values = _python_values(kind, values)
    first = next((v for v in values if v is not None), None)
    if isinstance(first, datetime):
        return [v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") if v is not None else None for v in values]
    if isinstance(first, date):
        return [v.isoformat() if v is not None else None for v in values]
    return values


def _owner_only(database: str | None) -> None:
    """Create the SQLite file readable by its owner only (its -wal and -shm files take its permissions)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


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
