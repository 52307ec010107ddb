"""A statement into the journal: every entry stored once with how it matched; the customers' transfers as
observations (a return as money going back, with its reason), matched to movements like any other source, all in
one transaction. A probable match waits for the merchant (`confirm`); an entry that names no order the journal
knows waits for the order."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from dunning import statements
from dunning.errors import InputError
from dunning.journal import balance, matcher, payments, recording, rules
from dunning.journal.sql import fetch, insert_new
from dunning.journal.store import Store
from dunning.journal.tables import observations, statement_entries
from dunning.statements.entries import CREDIT, RETURN
from dunning.statements.matching import CERTAIN, PROBABLE, SPLIT, UNMATCHED, Matcher

CONFIRMED, REFUSED = "confirmed", "refused"
SOURCE = "statement"


@dataclass
class Booked:
    """What one statement did: its entries with how each matched, and how many were new to the journal."""

    entries: pd.DataFrame
    new_entries: int
    new_payments: int


def import_statement(store: Store, path: Path, today: date, window: int = matcher.WINDOW_DAYS) -> Booked:
    """Read, match and record a statement; importing it again changes nothing."""
    read = statements.read(path)
    with store.writing() as db:
        read = read[~_stored_before(db, read)]
        held = balance.of_orders(db, today)
        matched = Matcher(held).match(read)
        problem = matched["problem"] != ""
        matched.loc[problem, "matched_by"], matched.loc[problem, "note"] = REFUSED, matched.loc[problem, "problem"]
        paying = matched["direction"].isin((CREDIT, RETURN))
        asked = matched[paying & matched["matched_by"].isin((*CERTAIN, PROBABLE, UNMATCHED))]
        observed, rejected = rules.observed(_candidates(asked), held.set_index("order_id")["currency"], today, source=SOURCE,
                                            origin=f"statement:{path.name}", file=str(path))
        refused = matched["entry_ref"].isin(rejected["row"])
        matched.loc[refused, "matched_by"] = REFUSED
        reasons = rejected.drop_duplicates("row").set_index("row")["reason"]  # a split entry's parts share their row
        matched.loc[refused, "note"] = matched.loc[refused, "entry_ref"].map(reasons)
        new_entries = insert_new(db, statement_entries, _records(matched, path), ["entry_ref"])
        written = recording.write(store, recording.Arrival(as_of=today, origin=f"statement:{path.name}", observations=observed,
                                                           window=window), db=db)
    return Booked(matched, new_entries, written.counts["payments"])


def rematch(store: Store, db: sa.Connection, today: date, window: int = matcher.WINDOW_DAYS) -> int:
    """Entries that matched no order when their statement was read, matched again now that the journal holds more
    orders (inside the caller's transaction, which holds `store.writing()`); returns how many found their order."""
    waiting = pd.DataFrame(fetch(db, sa.select(*[statement_entries.c[c] for c in statements.ENTRY_COLUMNS]).where(
        statement_entries.c.matched_by == UNMATCHED)), columns=statements.ENTRY_COLUMNS)
    if waiting.empty:
        return 0
    held = balance.of_orders(db, today)
    found = Matcher(held).match(waiting)
    found = found[~found["matched_by"].isin((UNMATCHED, SPLIT))]  # a split waits for the merchant: its payment is one
    for entry in found.itertuples():
        db.execute(statement_entries.update().where(statement_entries.c.entry_ref == entry.entry_ref,
                                                    statement_entries.c.matched_by == UNMATCHED)
                   .values(order_id=entry.order_id, matched_by=entry.matched_by))
        db.execute(observations.update().where(observations.c.source == SOURCE, observations.c.source_key == entry.entry_ref,
                                               observations.c.status == matcher.UNMATCHED)
                   .values(order_id=entry.order_id, status=matcher.REVIEW if entry.matched_by == PROBABLE else matcher.UNMATCHED))
    if len(found):
        recording.write(store, recording.Arrival(as_of=today, origin="statement", window=window), db=db)
    return len(found)


def confirm(store: Store, entry_ref: str, today: date) -> str:
    """Count a probable match as paid (the merchant checked it): its observation becomes a movement of its order, in
    one transaction with the entry's new state; returns the order id."""
    with store.writing() as db:
        entry = db.execute(sa.select(statement_entries).where(statement_entries.c.entry_ref == entry_ref)).first()
        if entry is None:
            waiting = db.execute(sa.select(statement_entries).where(statement_entries.c.bank_ref == entry_ref,
                                                                    statement_entries.c.matched_by == PROBABLE)).all()
            if len(waiting) > 1:
                raise InputError(f"{len(waiting)} probable matches have the bank reference {entry_ref!r}: confirm one by "
                                 "its entry (" + ", ".join(w.entry_ref for w in waiting[:5]) + ")")
            entry = waiting[0] if waiting else None
        if entry is None or entry.matched_by != PROBABLE:
            raise InputError(f"statement entry {entry_ref!r} is not a probable match waiting for confirmation")
        entry_ref = entry.entry_ref
        if entry.booked_on > today:
            raise InputError(f"statement entry {entry_ref}: booked on {entry.booked_on}, after {today.isoformat()}")
        seen = fetch(db, sa.select(observations.c.id).where(observations.c.source == SOURCE, observations.c.source_key == entry_ref))
        payments.assign(db, seen[0][0], entry.order_id, "a probable match from the bank statement, confirmed")
        db.execute(statement_entries.update().where(statement_entries.c.entry_ref == entry_ref,
                                                    statement_entries.c.matched_by == PROBABLE).values(matched_by=CONFIRMED))
    return entry.order_id


def _stored_before(db: sa.Connection, read: pd.DataFrame) -> pd.Series:
    """Entries a ledger stored before entries had identities: under their bank reference, on the same day, for the same
    amount and direction (they were observed then; another entry with that reference is not them)."""
    refs = [r for r in read["bank_ref"].unique().tolist() if r]
    if not refs:
        return pd.Series(False, index=read.index)
    old = db.execute(sa.select(statement_entries.c.entry_ref, statement_entries.c.booked_on, statement_entries.c.amount,
                               statement_entries.c.direction).where(statement_entries.c.entry_ref.in_(refs),
                                                                    statement_entries.c.entry_ref == statement_entries.c.bank_ref))
    keys = {(ref, booked_on, int(amount), direction) for ref, booked_on, amount, direction in old}
    return pd.Series([k in keys for k in zip(read["bank_ref"], read["booked_on"], read["amount"].astype(int),
                                             read["direction"])], index=read.index)


def _candidates(entries: pd.DataFrame) -> pd.DataFrame:
    """Payment candidates for the payment rules: a return counts against its order; a probable match is held for
    review; an entry that matched no order waits for one; a split transfer is one payment per order, each its own."""
    parts = entries.explode("parts").reset_index(drop=True)
    split = (parts["matched_by"] == SPLIT).to_numpy()
    order = [o if s else whole for (o, _), whole, s in zip(parts["parts"], parts["order_id"], split)]
    amount = pd.Series([a for _, a in parts["parts"]], dtype="int64")
    sign = parts["direction"].map(lambda d: -1 if d == RETURN else 1).astype("int64")
    key = [f"{ref}/{o}" if s else ref for ref, o, s in zip(parts["entry_ref"], order, split)]
    return pd.DataFrame({"order_id": order, "paid_at": parts["booked_on"], "currency": parts["currency"],
                         "amount": amount * sign, "payment_id": key,
                         "kind": parts["direction"].map(lambda d: "return" if d == RETURN else "payment"),
                         "reference": [f"{e}/{o}" if s and e else e for e, o, s in zip(parts["end_to_end"], order, split)],
                         "row": parts["entry_ref"],
                         "note": [f"return {r}".strip() if d == RETURN else "" for d, r in zip(parts["direction"], parts["reason_code"])],
                         "review": (parts["matched_by"] == PROBABLE).to_numpy()})


def _records(matched: pd.DataFrame, path: Path) -> list[dict]:
    """The entries as rows, every text cut to its column's length (a bank's text has no bound the store knows)."""
    columns = statements.ENTRY_COLUMNS + ["order_id", "matched_by", "note"]
    records = matched[columns].assign(file=path.name).to_dict("records")
    lengths = {c.name: c.type.length for c in statement_entries.columns if getattr(c.type, "length", None)}
    for record in records:
        record["amount"], record["charges"] = int(record["amount"]), int(record["charges"])
        for name, length in lengths.items():
            record[name] = str(record[name])[:length]
    return records
