"""A statement into the ledger: every entry stored once per bank reference with how it matched; the certain
matches become payments (a return a negative one, flagged with its reason) through the payment rules."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from dunning import ledger_store, payment_rules, statements
from dunning.errors import InputError
from dunning.statements.entries import RETURN
from dunning.statements.matching import CERTAIN, PROBABLE, Matcher
from dunning.store import Store

CONFIRMED, REFUSED = "confirmed", "refused"


@dataclass
class Booked:
    """What one statement did: its entries with how each matched, and how many were new to the ledger."""

    entries: pd.DataFrame
    new_entries: int
    new_payments: int


def import_statement(store: Store, path: Path, today: date) -> Booked:
    """Read, match and record a statement; importing it again changes nothing."""
    read = statements.read(path)
    state = ledger_store.load(store)
    owed = payment_rules.owed(state, today)
    matched = Matcher(state.orders, owed).match(read).assign(note="")
    certain = matched["matched_by"].isin(CERTAIN)
    rows, rejected = payment_rules.checked(_candidates(matched[certain]), state.currency_of(), owed, today,
                                           source=f"statement:{path.name}", file=str(path))
    refused = matched["entry_ref"].isin(rejected["row"])
    matched.loc[refused, "matched_by"] = REFUSED
    matched.loc[refused, "note"] = matched.loc[refused, "entry_ref"].map(rejected.set_index("row")["reason"])
    rows = _flag_returns(rows, matched)
    new_entries = store.add_statement_entries(_records(matched, path))
    new_payments = store.add_payments(payment_rules.as_records(rows))
    return Booked(matched, new_entries, new_payments)


def confirm(store: Store, entry_ref: str, today: date) -> str:
    """Count a probable match as paid (the merchant checked it): its payment is recorded; returns the order id."""
    entry = store.statement_entries_frame(entry_ref)
    if entry.empty or entry["matched_by"].iloc[0] != PROBABLE:
        raise InputError(f"statement entry {entry_ref!r} is not a probable match waiting for confirmation")
    order_id = str(entry["order_id"].iloc[0])
    state = ledger_store.load(store)
    rows, rejected = payment_rules.checked(_candidates(entry), state.currency_of(), payment_rules.owed(state, today), today,
                                           source="statement:confirmed", file="statement")
    if not rejected.empty:
        raise InputError(f"statement entry {entry_ref}: {rejected['reason'].iloc[0]}")
    if store.settle_entry(entry_ref, order_id, CONFIRMED, was=PROBABLE):
        store.add_payments(payment_rules.as_records(rows))
    return order_id


def _candidates(entries: pd.DataFrame) -> pd.DataFrame:
    """Payment candidates for the payment rules: a return counts against its order."""
    sign = entries["direction"].map(lambda d: -1 if d == RETURN else 1).astype("int64")
    return pd.DataFrame({"order_id": entries["order_id"], "paid_at": entries["booked_on"], "currency": entries["currency"],
                         "amount": entries["amount"].astype("int64") * sign, "payment_id": "statement:" + entries["entry_ref"],
                         "row": entries["entry_ref"]})


def _flag_returns(rows: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    """A returned direct debit or transfer is a new failure: its payment carries the bank's reason code."""
    reason = matched.set_index("entry_ref")["reason_code"]
    refs = rows["payment_id"].str.removeprefix("statement:")
    returned = rows["amount"] < 0
    rows.loc[returned, "flag"] = "return " + refs[returned].map(reason).fillna("").astype(str)
    return rows


def _records(matched: pd.DataFrame, path: Path) -> list[dict]:
    columns = statements.ENTRY_COLUMNS + ["order_id", "matched_by", "note"]
    records = matched[columns].assign(file=path.name).to_dict("records")
    for record in records:
        record["amount"] = int(record["amount"])
    return records
