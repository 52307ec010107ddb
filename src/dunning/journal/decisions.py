"""The merchant's decisions: an order cancelled, written off or handed to collection (it gets no further reminders,
and the report counts it apart), and the customers' change-of-method requests dealt with."""
from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from dunning.errors import InputError
from dunning.journal.sql import insert_new, now, read_frame
from dunning.journal.store import Store
from dunning.journal.tables import decisions, method_requests

DECISIONS = ("cancelled", "written_off", "collection")


def decide(store: Store, order_id: str, decision: str, amount_open: int, currency: str, on: date, note: str = "") -> bool:
    """Record the decision for an order (once: the database keeps the first); False when it was decided before."""
    checked(decision)
    row = {"order_id": order_id, "decision": decision, "currency": currency, "amount_open": int(amount_open), "note": note,
           "decided_on": on}
    with store.engine.begin() as db:
        return insert_new(db, decisions, [row], ["order_id"]) == 1


def decide_all(store: Store, decision: str, rows: list[dict]) -> dict[str, int | None]:
    """Record one decision for several orders (`rows`: order_id, currency, amount_open, note, decided_on) in one
    transaction under the ledger's write lock, each order once. An order decided otherwise before stops it whole
    (nothing is written). Returns per order what was open when it was decided before, or None where it is new."""
    checked(decision)
    ids = [row["order_id"] for row in rows]
    with store.writing() as db:
        made = decided(db)
        made = made[made["order_id"].isin(ids)].set_index("order_id")
        other = [f"{o} ({d.replace('_', ' ')})" for o, d in made["decision"].items() if d != decision]
        if other:
            raise InputError(f"decided otherwise before, so not {decision.replace('_', ' ')}: {', '.join(other[:10])}")
        insert_new(db, decisions, [row | {"decision": decision} for row in rows if row["order_id"] not in made.index],
                   ["order_id"])
    return {o: (int(made.at[o, "amount_open"]) if o in made.index else None) for o in ids}


def checked(decision: str) -> str:
    if decision not in DECISIONS:
        raise InputError(f"the decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    return decision


def decided(store: Store | sa.Connection, order_id: str | None = None) -> pd.DataFrame:
    """Every decision (or one order's): order_id, decision, currency, amount_open (minor units, when decided), note,
    decided_on."""
    if isinstance(store, Store):
        with store.engine.connect() as db:
            return decided(db, order_id)
    return read_frame(store, decisions, ["order_id", "decision", "currency", "amount_open", "note", "decided_on"],
                      None if order_id is None else decisions.c.order_id == order_id)


def closed(db: sa.Connection) -> pd.Series:
    """The orders the merchant decided on (cancelled, written off, handed to collection), with the words for why they
    get no further reminders."""
    made = decided(db)
    return pd.Series([f"{d.replace('_', ' ')} on {on.date().isoformat()} by the merchant" for d, on in
                      zip(made["decision"], made["decided_on"])], index=made["order_id"].to_numpy(), dtype="object")


def requests(store: Store, open_only: bool = True) -> pd.DataFrame:
    """The customers' change-of-method requests (id, order_id, wanted, message, requested_at, done_at)."""
    where = method_requests.c.done_at.is_(None) if open_only else None
    return store.frame(method_requests, ["id", "order_id", "wanted", "message", "requested_at", "done_at"], where)


def request_done(store: Store, request_id: int) -> bool:
    """Mark a request dealt with (a conditional update: of two at once, one wins); False when it was done already."""
    with store.engine.begin() as db:
        found = db.execute(sa.select(method_requests.c.id).where(method_requests.c.id == request_id)).first()
        if found is None:
            raise InputError(f"there is no change-of-method request {request_id}")
        update = (method_requests.update().where(method_requests.c.id == request_id, method_requests.c.done_at.is_(None))
                  .values(done_at=now()))
        return db.execute(update).rowcount == 1
