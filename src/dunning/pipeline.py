"""One pipeline for every command that reads an export: read, plan what the journal learns, judge, record.

`find_overdue` writes nothing: it reads the export (and a payments file), plans what the journal would learn from
them (`journal.recording.plan`: orders, installments, drops, payments matched to movements) and judges what is
overdue on the balance the journal will then hold. `record` writes that plan in one transaction, so a look
(`--dry-run`) shows exactly what a recording run records.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dunning.config import Settings
from dunning.errors import InputError
from dunning.exclusions import Filters
from dunning.filters import checked as checked_filters
from dunning.journal import decisions, matcher, queue, recording, rules
from dunning.journal.sql import BATCH, fetch
from dunning.journal.store import Store
from dunning.journal.tables import coverage, observations, orders as order_table
from dunning.overdue import OverdueResult, codes_for, judge
from dunning.sources import loader, profiles


@dataclass
class Found:
    """The export read, the payments read (if any), the overdue result, and what the journal would learn."""

    export: loader.OrderExport
    payments: loader.PaymentExport | None
    result: OverdueResult
    arrival: recording.Arrival
    plan: recording.Plan
    as_of: date
    filters: Filters  # as applied: every value canonical

    @property
    def rejects(self) -> pd.DataFrame:
        """Rejected rows of the export and the payments file."""
        frames = [self.export.rejects] + ([self.payments.rejects] if self.payments else [])
        return pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)

    @property
    def source(self) -> str:
        return f"export:{self.export.path.name}"

    def at_stage(self, stages: tuple[str, ...] = ()) -> pd.DataFrame:
        """The orders to remind, each with `about` ("" for a dunning stage): the overdue orders, and the notices
        before a due date of the notice stages named in `stages` (never unasked: a notice is a stage of its own)."""
        notices = self.result.notices
        asked = notices[notices["stage"].isin(stages)] if stages else notices.iloc[0:0]
        orders = self.result.orders.assign(about="")
        return pd.concat([orders, asked], ignore_index=True) if len(asked) else orders


def find_overdue(
    settings: Settings, store: Store, file: str | Path, *, as_of: date, payments: str | Path | None = None, profile: str | None = None,
    payments_profile: str | None = None, grace: int | None = None, filters: Filters = Filters(),
    on_step: Callable[[str], None] = lambda text: None, sheet: str | None = None,
) -> Found:
    """Read the export (and payments file; of a workbook the sheet named) and find what is overdue, judged on the
    journal's balance."""
    policy = settings.policy
    if grace is not None:
        if grace < 0:
            raise InputError("--grace must be 0 or more days")
        policy = replace(policy, grace_days=grace)
    inputs = settings.section("input")
    file, payments = Path(file), Path(payments) if payments is not None else None
    on_step(f"reading {file.name}")
    export = loader.read_orders(file, profiles.load(profile or inputs.get("profile", "generic")).on_sheet(sheet))
    filters = checked_filters(filters, export, policy)
    paid = None
    if payments is not None:
        on_step(f"reading {payments.name}")
        paid = loader.read_payments(payments, profiles.load(payments_profile or inputs.get("payments_profile", "generic")))
    ahead = as_of + timedelta(days=-policy.notice_stages[0].days) if policy.notice_stages else as_of
    on_step("reading the ledger")
    with store.engine.connect() as db:
        arrival = arrival_of(db, export, paid, ahead, as_of, settings.match_window_days)
        planned = recording.plan(db, arrival)
        history = queue.history(db)
        closed = decisions.closed(db)
        claims = queue.claims(db) if settings.statute else None
        shown = _shown_elsewhere(db, planned, paid)
    on_step("finding what is overdue")
    codes = pd.Series(np.arange(len(planned.book.orders)), index=planned.book.orders["order_id"].to_numpy())
    export_codes = codes.reindex(export.orders["order_id"]).to_numpy(dtype="int64")
    result = judge(export.orders, planned.settled(as_of), export_codes, as_of, policy, filters=filters, history=history, closed=closed,
                   statute=settings.statute, claims=claims)
    result.unmatched_payments = _unmatched(planned, paid)
    only_ledger = _only_in_ledger(planned, shown, as_of)
    for frame in (result.orders, result.excluded):
        frame["ledger_paid"] = pd.array(only_ledger[codes.reindex(frame["order_id"]).to_numpy(dtype="int64")], dtype="Int64")
    return Found(export, paid, result, arrival, planned, as_of, filters)


def record(found: Found, store: Store, db: sa.Connection | None = None) -> recording.Plan:
    """Record what the run learnt (in the caller's transaction `db`, or in one of its own): the export's orders and
    installments, the drops it shows, the file's payments, each matched to a movement."""
    return recording.write(store, found.arrival, found.plan, db)


def arrival_of(db: sa.Connection, export: loader.OrderExport, paid: loader.PaymentExport | None, until: date, as_of: date,
               window: int = matcher.WINDOW_DAYS) -> recording.Arrival:
    """What an export (and a payments file) bring: its orders, its installments up to `until`, the file's payments
    through the payment rules (rows they refuse join the file's rejects)."""
    observed = recording.empty_observations()
    if paid is not None:
        currency = _currencies(db, export, paid.payments["order_id"])
        observed, refused = rules.observed(paid.payments, currency, as_of, source="file", origin=f"file:{paid.path.name}",
                                           file=str(paid.path))
        paid.rejects = pd.concat([f for f in (paid.rejects, refused) if not f.empty] or [paid.rejects], ignore_index=True)
    details = export.orders[recording.DETAILS].reset_index(drop=True)
    return recording.Arrival(as_of=as_of, origin=f"export:{export.path.name}", details=details,
                             views=recording.views_from(export.receivables_until(until)), open_only=export.open_only,
                             observations=observed, window=window)


def _currencies(db: sa.Connection, export: loader.OrderExport, order_ids: pd.Series) -> pd.Series:
    """Each order's currency: the export's, else the journal's."""
    mine = pd.Series(export.orders["currency"].to_numpy(), index=export.orders["order_id"].to_numpy())
    wanted = pd.Series(pd.unique(order_ids))
    others = wanted[codes_for(wanted, export.orders["order_id"]) < 0].tolist()
    rows = [r for start in range(0, len(others), BATCH) for r in fetch(db, sa.select(order_table.c.order_id, order_table.c.currency)
                                                                        .where(order_table.c.order_id.in_(others[start:start + BATCH])))]
    return pd.concat([mine, pd.Series(dict(rows), dtype=object)])


def _shown_elsewhere(db: sa.Connection, planned: recording.Plan, paid: loader.PaymentExport | None) -> np.ndarray:
    """Movements a shop's export has shown, or this run's payments file holds (stored ids; new ones are negative)."""
    shown = [np.fromiter((r[0] for r in fetch(db, sa.select(coverage.c.movement_id))), dtype="int64"),
             np.fromiter((m for ms in planned.exported.covers.values() for m in ms), dtype="int64")]
    if paid is not None:
        origin = f"file:{paid.path.name}"
        shown.append(np.fromiter((r[0] for r in fetch(db, sa.select(observations.c.movement_id).where(
            observations.c.origin == origin, observations.c.movement_id.is_not(None)))), dtype="int64"))
        mine = (planned.incoming["origin"] == origin).to_numpy(dtype=bool)
        shown.append(planned.matched.movement.to_numpy(dtype="int64")[mine])
    return np.unique(np.concatenate(shown))


def _only_in_ledger(planned: recording.Plan, shown: np.ndarray, as_of: date) -> np.ndarray:
    """Per order code: money in that neither the export nor this run's payments file shows (the webhook, an earlier
    file, a bank statement)."""
    moved = planned.book.movements
    pick = ((moved["source"] != matcher.EXPORT).to_numpy(dtype=bool) & ~np.isin(moved["id"].to_numpy(dtype="int64"), shown)
            & (moved["occurred_on"] <= pd.Timestamp(as_of)).to_numpy(dtype=bool))
    out = np.zeros(len(planned.book.orders), dtype="int64")
    np.add.at(out, moved["code"].to_numpy(dtype="int64")[pick], moved["amount"].to_numpy(dtype="int64")[pick])
    return np.maximum(out, 0)


def _unmatched(planned: recording.Plan, paid: loader.PaymentExport | None) -> pd.DataFrame:
    """Payments of the file for orders neither the export nor the journal knows, with why."""
    columns = ["order_id", "paid_at", "amount", "currency", "payment_id", "why"]
    if paid is None:
        return pd.DataFrame(columns=columns)
    rows = planned.incoming[(planned.matched.status == matcher.UNMATCHED).to_numpy()
                            & (planned.incoming["origin"] == f"file:{paid.path.name}").to_numpy()]
    return pd.DataFrame({"order_id": rows["order_id"], "paid_at": rows["occurred_on"], "amount": rows["amount"],
                         "currency": rows["currency"], "payment_id": rows["source_key"],
                         "why": "no such order in the export or the ledger (kept: matched when the order arrives)"},
                        columns=columns).reset_index(drop=True)
