"""The store: the journal's tables in SQLite (embedded default) or PostgreSQL (by URL).

The schema (journal/tables.py) is created and changed by the Alembic migrations in dunning/migrations. Every
command writes what it learnt of money in one transaction that holds the ledger's write lock (`writing`): SQLite's
write lock, or an advisory lock on PostgreSQL, so two writers never match the same payment twice.
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, OperationalError

from dunning.errors import InputError
from dunning.journal.pages import PageRecords
from dunning.journal.queue import SendQueue
from dunning.journal.sql import read_frame
from dunning.journal.tables import orders

URL_VARIABLE = "DUNNING_DATABASE_URL"
MIGRATION_LOCK = 7_341_905_100  # a PostgreSQL advisory lock id: one process migrates at a time
LEDGER_LOCK = 7_341_905_101  # a PostgreSQL advisory lock id: one process writes money at a time
HEAD_REVISION = "0016"  # the newest migration (dunning/migrations/versions): a store at it needs none


def url_for(workspace: Path, configured: str | None = None) -> str:
    """DUNNING_DATABASE_URL, else the configured URL, else an SQLite file in the workspace."""
    return os.environ.get(URL_VARIABLE) or configured or f"sqlite:///{(workspace / 'dunning.sqlite3').resolve()}"


class Store(SendQueue, PageRecords):
    """The journal, the send queue and the pages' records; opening it brings the schema up to date."""

    def __init__(self, url: str):
        try:
            # A networked database may drop idle connections; an embedded SQLite file cannot.
            self.engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        except ImportError as exc:
            if "psycopg" in str(exc):
                raise InputError("a PostgreSQL store needs dunning's postgres extra: pip install 'dunning[postgres]'") from None
            raise InputError(f"store URL {redacted(url)} cannot be used: {exc}") from None
        except ArgumentError as exc:
            raise InputError(f"store URL {redacted(url)} cannot be used: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            _owner_only(self.engine.url.database)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self.migrate()
        except OperationalError as exc:
            raise InputError(f"cannot open the store at {redacted(url)}: {exc.orig}") from None

    def migrate(self) -> None:
        """Run the migrations up to the newest (a no-op when the schema is current).

        One process migrates at a time (PostgreSQL: an advisory lock; SQLite: the write lock), and the
        others then find the schema current. On SQLite foreign keys are off while a migration rebuilds
        a table that others refer to, as SQLite's documentation advises. A store already at the newest
        revision is seen in one query, without loading the migration tool: every command opens the store."""
        revision = self.revision()
        if revision == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
        try:
            if revision is not None:
                ScriptDirectory.from_config(config).get_revision(revision)
        except CommandError:
            raise InputError(f"the store at {redacted(str(self.engine.url))} was made by a newer dunning (its schema is at "
                             f"revision {revision}; this dunning knows up to {HEAD_REVISION}): upgrade dunning to open it") from None
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

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """One transaction that holds the ledger's write lock from its first statement: what is read in it is what
        the writes build on (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock held to the commit)."""
        with self.engine.connect() as db:
            with db.begin():
                if db.dialect.name == "sqlite":
                    db.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    db.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": LEDGER_LOCK})
                yield db

    def holds(self, order_id: str) -> bool:
        """Whether the journal holds this order (so a link to it opens its page)."""
        with self.engine.connect() as db:
            return db.execute(sa.select(orders.c.order_key).where(orders.c.order_id == order_id)).first() is not None

    def frame(self, table: sa.Table, columns: list[str], where: sa.ColumnElement | None = None) -> pd.DataFrame:
        """A table (or the rows `where` picks) as a frame."""
        with self.engine.connect() as db:
            return read_frame(db, table, columns, where)


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
    cursor.execute("PRAGMA busy_timeout=30000")
    _into_wal(cursor)
    # WAL with synchronous=NORMAL (SQLite's advice for WAL): safe against a crashed process, which is what
    # resuming a send relies on; only the last commits could be lost if the machine loses power.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _into_wal(cursor, seconds: float = 30.0) -> None:
    """Switch the file to WAL. SQLite answers "database is locked" at once, without its busy handler, while another
    process holds the lock that switch needs (two processes opening a new store): try again until it is free."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def redacted(url: str) -> str:
    """A URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"
