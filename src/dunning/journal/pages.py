"""What the customers' pages leave in the store: visits, change-of-method requests, the webhook's signatures."""
from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import secrets
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dunning.journal.sql import insert_new, now, read_frame
from dunning.journal.tables import attempts, merchant_sessions, method_requests, visits, webhook_events

if TYPE_CHECKING:
    from dunning.journal.store import Store


class PageRecords:
    """Visits and requests of a store (mixed into `Store`, which provides `engine`)."""

    engine: sa.Engine

    def record_visits(self, rows: list[dict]) -> None:
        """Visits of manage pages (order_id, visited_at), in one statement."""
        with self.engine.begin() as db:
            db.execute(_VISIT, rows)

    def visits_frame(self, order_id: str | None = None) -> pd.DataFrame:
        """Every visit of a manage page (or of one order's): order_id, visited_at (datetime64, UTC)."""
        with self.engine.connect() as db:
            return read_frame(db, visits, ["order_id", "visited_at"], None if order_id is None else visits.c.order_id == order_id)

    def add_method_request(self, order_id: str, wanted: str, message: str) -> None:
        with self.engine.begin() as db:
            db.execute(method_requests.insert().values(order_id=order_id, wanted=wanted, message=message, requested_at=now()))


def first_sighting(db: sa.Connection, signature: str) -> bool:
    """True the first time a webhook signature is seen (in the caller's transaction); False for a replay."""
    return insert_new(db, webhook_events, [{"signature": signature}], ["signature"], stamp_column="received_at") == 1


def attempts_since(store: Store, key: str, since: int) -> int:
    """How many attempts under `key` (a client, a login) were counted after `since` (Unix seconds), by every worker."""
    query = sa.select(sa.func.coalesce(sa.func.sum(attempts.c.count), 0)).where(attempts.c.key == key[:300],
                                                                                 attempts.c.window_start > since)
    with store.engine.connect() as db:
        return int(db.execute(query).scalar_one())


def count_attempt(store: Store, key: str, bucket: int, forget_before: int) -> None:
    """One more attempt under `key` in the minute starting at `bucket` (an upsert: workers at once each count), and
    the counts older than `forget_before` gone."""
    insert = (postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert)(attempts)
    upsert = insert.values(key=key[:300], window_start=bucket, count=1).on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": attempts.c.count + 1})
    with store.engine.begin() as db:
        db.execute(upsert)
        db.execute(attempts.delete().where(attempts.c.key == key[:300], attempts.c.window_start <= forget_before))


def open_session(store: Store, password_tag: str, lifetime: timedelta) -> str:
    """A new merchant session, ending at a fixed time; returns its secret (the store keeps only a digest of it)."""
    secret = secrets.token_urlsafe(32)
    started = now()
    with store.engine.begin() as db:
        db.execute(merchant_sessions.insert().values(id=_digest(secret), password_tag=password_tag, created_at=started,
                                                     expires_at=started + lifetime))
    return secret


def session_alive(store: Store, secret: str, password_tag: str) -> bool:
    """Whether a session's secret opens it: it exists, was not ended, has not run out, and the password is the one it
    was opened with."""
    query = sa.select(merchant_sessions.c.expires_at).where(
        merchant_sessions.c.id == _digest(secret), merchant_sessions.c.revoked_at.is_(None),
        merchant_sessions.c.password_tag == password_tag)
    with store.engine.connect() as db:
        ends = db.execute(query).scalar()
    if ends is None:
        return False
    return (ends if ends.tzinfo else ends.replace(tzinfo=now().tzinfo)) > now()


def end_session(store: Store, secret: str) -> None:
    """Sign a session out: its cookie opens nothing any more, wherever it was copied to."""
    with store.engine.begin() as db:
        db.execute(merchant_sessions.update().where(merchant_sessions.c.id == _digest(secret),
                                                    merchant_sessions.c.revoked_at.is_(None)).values(revoked_at=now()))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_VISIT = visits.insert().values(order_id=sa.bindparam("order_id"), visited_at=sa.bindparam("visited_at"))
