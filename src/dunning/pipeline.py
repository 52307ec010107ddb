"""One pipeline for every command that reads an export: read, plan what the journal learns, judge, record.

`find_overdue` reads the export (and a payments file), then goes through the orders a partition at a time
(`PARTITION_ORDERS`): it plans what the journal learns of them (`journal.recording.plan`: orders, installments, drops,
payments matched to movements), judges what is overdue on the balance the journal will then hold, and, inside the
ledger's write transaction (`db`), writes that plan before the next partition: a run's memory is bounded by a
partition, not by the export. Without `db` it only looks: the same plans and judgement, nothing written, so a look
(`--dry-run`) shows exactly what a recording run records. A payment of an order the export does not hold is planned
with the last partition.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
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
from dunning.policy import Policy
from dunning.sources import loader, profiles
from dunning.sources.rejects import REJECT_COLUMNS

PARTITION_ORDERS = 50_000  # orders planned, judged and written at a time


@dataclass(frozen=True)
class Recorded:
    """What a run added to the journal: new observations by what became of them, and new orders (`Plan.counts`)."""

    counts: dict[str, int]


@dataclass
class Found:
    """The export read, the payments read (if any), the overdue result, and what the run learnt (recorded already
    when it was found inside the ledger's write transaction)."""

    export: loader.OrderExport
    payments: loader.PaymentExport | None
    result: OverdueResult
    as_of: date
    filters: Filters  # as applied: every value canonical
    until: date  # installments up to this date (the notice stages look ahead)
    window: int
    recorded: Recorded | None = None

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
    on_step: Callable[[str], None] = lambda text: None, sheet: str | None = None, db: sa.Connection | None = None,
) -> Found:
    """Read the export (and payments file; of a workbook the sheet named) and find what is overdue, judged on the
    journal's balance. With `db` (a transaction holding `store.writing()`) what the run learns is recorded in it as
    it goes; without, nothing is written."""
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
    until = as_of + timedelta(days=-policy.notice_stages[0].days) if policy.notice_stages else as_of
    if db is None:
        with store.engine.connect() as look:
            return _judged(settings, store, look, export, paid, policy, filters, as_of, until, on_step, writing=False)
    return _judged(settings, store, db, export, paid, policy, filters, as_of, until, on_step, writing=True)


def record(found: Found, store: Store, db: sa.Connection | None = None) -> Recorded:
    """Record what the run learnt (in the caller's transaction `db`, or in one of its own), a partition of orders at a
    time: the export's orders and installments, the drops it shows, the file's payments, each matched to a movement.
    A run found inside the write transaction recorded all that already: its figures are returned."""
    if found.recorded is not None:
        return found.recorded
    if db is None:
        with store.writing() as db:
            return record(found, store, db)
    counts: Counter = Counter()
    for part in _partitions(db, found.export, found.payments, found.until, found.as_of, found.window):
        counts.update(recording.write(store, part.arrival, db=db).counts)
    return Recorded(_counted(counts))


def _judged(settings: Settings, store: Store, db: sa.Connection, export: loader.OrderExport, paid: loader.PaymentExport | None,
            policy: Policy, filters: Filters, as_of: date, until: date, on_step: Callable[[str], None], *, writing: bool) -> Found:
    """Plan, judge and (when `writing`) record the run, a partition of orders at a time; the payments the payment rules
    refuse join the file's rejects."""
    on_step("reading the ledger")
    window = settings.match_window_days
    history = queue.history(db)
    closed = decisions.closed(db)
    claims = queue.claims(db) if settings.statute else None
    shown = _shown_before(db, paid)
    results, refused, counts = [], [], Counter()
    total = len(export.orders)
    for part in _partitions(db, export, paid, until, as_of, window):
        on_step(f"finding what is overdue: orders {part.first + 1:,} to {part.first + len(part.orders):,} of {total:,}"
                if total > PARTITION_ORDERS else "finding what is overdue")
        planned = recording.plan(db, part.arrival)
        codes = pd.Series(np.arange(len(planned.book.orders)), index=planned.book.orders["order_id"].to_numpy())
        export_codes = codes.reindex(part.orders["order_id"]).to_numpy(dtype="int64")
        result = judge(part.orders, planned.settled(as_of), export_codes, as_of, policy, filters=filters, history=history,
                       closed=closed, statute=settings.statute, claims=claims)
        result.unmatched_payments = _unmatched(planned, paid)
        only_ledger = _only_in_ledger(planned, shown, _shown_now(planned, paid), as_of)
        for frame in (result.orders, result.excluded):
            frame["ledger_paid"] = pd.array(only_ledger[codes.reindex(frame["order_id"]).to_numpy(dtype="int64")], dtype="Int64")
        if writing:
            counts.update(recording.write(store, part.arrival, planned, db).counts)
        results.append(result)
        refused.append(part.refused)
        del planned
    if paid is not None:  # the rows the rules refuse, in the file's order, after those its reading rejected
        refused = [f for f in refused if not f.empty]
        if len(refused) > 1:
            refused = [pd.concat(refused, ignore_index=True).sort_values("row", kind="stable")]
        paid.rejects = pd.concat([f for f in (paid.rejects, *refused) if not f.empty] or [paid.rejects], ignore_index=True)
    return Found(export, paid, _combined(results, as_of), as_of, filters, until, window, Recorded(_counted(counts)) if writing else None)


@dataclass
class _Part:
    """A partition of a run: the export's orders in it (from position `first`), what it brings the journal, and the
    file's payments of it the payment rules refuse."""

    first: int
    orders: pd.DataFrame
    arrival: recording.Arrival
    refused: pd.DataFrame


def _partitions(db: sa.Connection, export: loader.OrderExport, paid: loader.PaymentExport | None, until: date, as_of: date,
                window: int) -> Iterator[_Part]:
    """The run a partition of `PARTITION_ORDERS` orders at a time, in the export's order, each with the file's payments
    of its orders through the payment rules (those of an order the export does not hold go with the last). An
    observation the journal keeps waiting for an order is planned with the partition that brings that order (the
    journal holds none waiting for an order it holds)."""
    ids = export.orders["order_id"]
    count = max(1, -(-len(ids) // PARTITION_ORDERS))
    rows = _payment_rows(export, paid, count)
    origin = f"export:{export.path.name}"
    for index in range(count):
        first, last = index * PARTITION_ORDERS, min((index + 1) * PARTITION_ORDERS, len(ids))
        orders = export.orders if count == 1 else export.orders.iloc[first:last].reset_index(drop=True)
        observed, refused = _observed(db, orders, paid, rows[index], as_of)
        yield _Part(first, orders, recording.Arrival(
            as_of=as_of, origin=origin, details=orders[recording.DETAILS].reset_index(drop=True), open_only=export.open_only,
            views=recording.views_from(export.receivables_until(until, of=orders["order_id"] if count > 1 else None)),
            observations=observed, window=window), refused)


def _payment_rows(export: loader.OrderExport, paid: loader.PaymentExport | None, count: int) -> list[np.ndarray | None]:
    """Positions of the file's payments of each partition (None: all of them); a payment of an order the export does
    not hold goes with the last."""
    if paid is None or count == 1:
        return [None] * count
    at = codes_for(paid.payments["order_id"], export.orders["order_id"])
    part_of = np.where(at < 0, count - 1, at // PARTITION_ORDERS)
    return [np.flatnonzero(part_of == index) for index in range(count)]


def _combined(results: list[OverdueResult], as_of: date) -> OverdueResult:
    """The partitions' results as one, ordered as one judgement orders them."""
    if len(results) == 1:
        return results[0]

    def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)

    orders = joined([r.orders for r in results]).sort_values(["days_overdue", "order_id"], ascending=[False, True], kind="stable")
    notices = joined([r.notices for r in results]).sort_values(["oldest_due_date", "order_id"], kind="stable")
    return OverdueResult(orders=orders.reset_index(drop=True), excluded=joined([r.excluded for r in results]),
                         unmatched_payments=joined([r.unmatched_payments for r in results]), as_of=as_of,
                         notices=notices.reset_index(drop=True))


def _counted(counts: Counter) -> dict[str, int]:
    return {key: int(counts.get(key, 0)) for key in ("payments", "drops", "review", "unmatched", "new_orders")}


def _observed(db: sa.Connection, orders: pd.DataFrame, paid: loader.PaymentExport | None, rows: np.ndarray | None,
              as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The file's payments at `rows` (None: all) through the payment rules, for a partition's `orders`: the
    observations, and the rows they refuse."""
    if paid is None:
        return recording.empty_observations(), pd.DataFrame(columns=REJECT_COLUMNS)
    payments = paid.payments if rows is None else paid.payments.iloc[rows]
    return rules.observed(payments, _currencies(db, orders, payments["order_id"]), as_of, source="file",
                          origin=f"file:{paid.path.name}", file=str(paid.path))


def arrival_of(db: sa.Connection, export: loader.OrderExport, until: date, as_of: date,
               window: int = matcher.WINDOW_DAYS) -> recording.Arrival:
    """What an export brings, as one arrival: its orders and its installments up to `until`."""
    details = export.orders[recording.DETAILS].reset_index(drop=True)
    return recording.Arrival(as_of=as_of, origin=f"export:{export.path.name}", details=details,
                             views=recording.views_from(export.receivables_until(until)), open_only=export.open_only,
                             window=window)


def _currencies(db: sa.Connection, orders: pd.DataFrame, order_ids: pd.Series) -> pd.Series:
    """Each order's currency: the export's (of its `orders`), else the journal's."""
    mine = pd.Series(orders["currency"].to_numpy(), index=orders["order_id"].to_numpy())
    wanted = pd.Series(pd.unique(order_ids))
    others = wanted[codes_for(wanted, orders["order_id"]) < 0].tolist()
    rows = [r for start in range(0, len(others), BATCH) for r in fetch(db, sa.select(order_table.c.order_id, order_table.c.currency)
                                                                        .where(order_table.c.order_id.in_(others[start:start + BATCH])))]
    return pd.concat([mine, pd.Series(dict(rows), dtype=object)])


def _shown_before(db: sa.Connection, paid: loader.PaymentExport | None) -> np.ndarray:
    """Movements a shop's export has shown, or a file of this run's name holds, as the journal held them before the run
    (sorted)."""
    shown = [np.fromiter((r[0] for r in fetch(db, sa.select(coverage.c.movement_id))), dtype="int64")]
    if paid is not None:
        shown.append(np.fromiter((r[0] for r in fetch(db, sa.select(observations.c.movement_id).where(
            observations.c.origin == f"file:{paid.path.name}", observations.c.movement_id.is_not(None)))), dtype="int64"))
    return np.unique(np.concatenate(shown))


def _shown_now(planned: recording.Plan, paid: loader.PaymentExport | None) -> np.ndarray:
    """Movements this partition's export snapshots cover, or this run's payments file matched (new ones negative)."""
    shown = [np.fromiter((m for ms in planned.exported.covers.values() for m in ms), dtype="int64")]
    if paid is not None:
        mine = (planned.incoming["origin"] == f"file:{paid.path.name}").to_numpy(dtype=bool)
        shown.append(planned.matched.movement.to_numpy(dtype="int64")[mine])
    return np.unique(np.concatenate(shown))


def _only_in_ledger(planned: recording.Plan, shown_before: np.ndarray, shown_now: np.ndarray, as_of: date) -> np.ndarray:
    """Per order code: money in that neither the export nor this run's payments file shows (the webhook, an earlier
    file, a bank statement). `shown_before` (sorted, of the whole ledger) is searched, not merged, per partition."""
    moved = planned.book.movements
    ids = moved["id"].to_numpy(dtype="int64")
    pick = ((moved["source"] != matcher.EXPORT).to_numpy(dtype=bool) & ~(_among(ids, shown_before) | np.isin(ids, shown_now))
            & (moved["occurred_on"] <= pd.Timestamp(as_of)).to_numpy(dtype=bool))
    out = np.zeros(len(planned.book.orders), dtype="int64")
    np.add.at(out, moved["code"].to_numpy(dtype="int64")[pick], moved["amount"].to_numpy(dtype="int64")[pick])
    return np.maximum(out, 0)


def _among(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Which `values` are in `sorted_keys` (sorted and unique): a binary search each, the keys not sorted again."""
    if not len(sorted_keys):
        return np.zeros(len(values), dtype=bool)
    return sorted_keys[np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)] == values


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
