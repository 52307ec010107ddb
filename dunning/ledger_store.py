"""Reading the ledger from the store and writing to it; every write is settled by the database.

`record` runs in one transaction whose first statement writes, so on SQLite it holds the write
lock before it reads, and on PostgreSQL the conditional update of an order's view date locks the
rows it advances: two processes reading the same export at once record each drop once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa

from dunning import ledger
from dunning.arrowtext import contained
from dunning.schema import PAYMENT_COLUMNS, installments, orders, payments
from dunning.store import Store, insert_new, now

DETAILS = ["order_id", "email", "first_name", "last_name", "language", "product_name", "currency", "fee"]
BATCH = 900


def load(store: Store, order_id: str | None = None) -> ledger.LedgerState:
    """Everything the ledger knows, as frames; or all it knows of one order."""
    def only(table: sa.Table) -> sa.ColumnElement | None:
        return None if order_id is None else table.c.order_id == order_id

    return ledger.LedgerState(
        orders=store.frame(orders, [*DETAILS, "as_of"], only(orders)),
        views=store.frame(installments, ledger.VIEW_COLUMNS, only(installments)),
        payments=store.frame(payments, PAYMENT_COLUMNS, only(payments)),
        history=store.history(order_id),
    )


@dataclass
class Recorded:
    """What one recording added to the ledger."""

    payments: int = 0
    drops: int = 0
    new_orders: int = 0


def record(store: Store, state: ledger.LedgerState, *, details: pd.DataFrame, views: pd.DataFrame, as_of: date,
           source: str, new_payments: list[dict] | pd.DataFrame) -> Recorded:
    """Record payments, the details of orders handed a link, and the export's view of every order it shows
    that the ledger holds; a known order's view advances only to a later date, and the drop against its
    previous view is stored as a payment of kind `drop`."""
    known = set(state.orders["order_id"])
    currency = state.currency_of(details)
    result = Recorded()
    with store.engine.begin() as db:
        result.payments = insert_new(db, payments, new_payments, ["payment_id"])
        if len(details):
            _upsert_details(db, details, as_of)
            unknown = ~contained(details["order_id"], known)
            fresh = views[contained(views["order_id"], details.loc[unknown, "order_id"])]
            result.new_orders = int(unknown.sum())
            insert_new(db, installments, _rows(fresh), ["order_id", "seq"], stamp_column=None)
        advancing = sorted(set(views.loc[contained(views["order_id"], known), "order_id"]))
        advanced = _advance(db, advancing, as_of)
        if advanced:
            old = _views_of(db, advanced)
            new = views[contained(views["order_id"], advanced)]
            dropped = ledger.drops(old, new, currency, as_of, source)
            rows = dropped.assign(paid_at=as_of).to_dict("records")
            result.drops = insert_new(db, payments, rows, ["payment_id"])
            for chunk in _chunks(advanced):
                db.execute(installments.delete().where(installments.c.order_id.in_(chunk)))
            insert_new(db, installments, _rows(new), ["order_id", "seq"], stamp_column=None)
    return result


def _upsert_details(db: sa.Connection, details: pd.DataFrame, as_of: date) -> None:
    """Insert new orders (their view dated `as_of`); for known ones refresh who and what, not the view."""
    rows = details[DETAILS].assign(fee=details["fee"].astype("int64"), as_of=pd.Timestamp(as_of))
    insert_new(db, orders, rows, ["order_id"], stamp_column="updated_at",
               update=[c for c in [*DETAILS[1:], "updated_at"] if c != "currency"])


def _advance(db: sa.Connection, order_ids: list[str], as_of: date) -> list[str]:
    """Move the view date of these orders to `as_of` where it is earlier; returns the orders this call moved."""
    moved: list[str] = []
    for chunk in _chunks(order_ids):
        update = (orders.update().where(orders.c.order_id.in_(chunk), orders.c.as_of < as_of)
                  .values(as_of=as_of, updated_at=now()).returning(orders.c.order_id))
        moved += db.execute(update).scalars().all()
    return sorted(moved)


def _views_of(db: sa.Connection, order_ids: list[str]) -> pd.DataFrame:
    found = []
    for chunk in _chunks(order_ids):
        found += db.execute(sa.select(installments.c.order_id, installments.c.seq, installments.c.amount_open)
                            .where(installments.c.order_id.in_(chunk))).all()
    return pd.DataFrame(found, columns=["order_id", "seq", "amount_open"])


def _rows(views: pd.DataFrame) -> pd.DataFrame:
    """Installment rows for the store, column by column."""
    return pd.DataFrame({"order_id": views["order_id"].astype(object), "seq": views["seq"].astype("int64"),
                         "due_date": pd.to_datetime(views["due_date"]), "amount_due": views["amount_due"].astype("int64"),
                         "amount_open": views["amount_open"].astype("int64")})


def _chunks(values: list) -> list[list]:
    return [values[i:i + BATCH] for i in range(0, len(values), BATCH)]
