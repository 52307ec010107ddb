"""One pipeline for every command that reads an export: read, judge against the ledger, link, record.

`find_overdue` writes nothing: it reads the export (and a payments file), and judges what is open
with the ledger (`ledger.pending`). `record` writes what the run learnt: the file's payments, the
export's view of every order the ledger holds (a drop becomes a payment) and the orders handed a
link, so every link opens its page. A look that writes nothing (`--dry-run`) skips `record`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from dunning import decisions, ledger, ledger_store, payment_rules
from dunning.arrowtext import contained, looked_up
from dunning.config import Settings
from dunning.errors import InputError
from dunning.filters import checked as checked_filters
from dunning.overdue import Filters, OverdueResult, find
from dunning.sources import loader, profiles
from dunning.schema import PAYMENT_COLUMNS
from dunning.store import Store


@dataclass
class Found:
    """The export read, the payments read (if any), the overdue result, and what the ledger would learn."""

    export: loader.OrderExport
    payments: loader.PaymentExport | None
    result: OverdueResult
    state: ledger.LedgerState
    views: pd.DataFrame  # the export's own installments, every order in it
    new_payments: pd.DataFrame  # the payments file's rows, checked (PAYMENT_COLUMNS)
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
    on_step: Callable[[str], None] = lambda text: None,
) -> Found:
    """Read the export (and payments file) and find what is overdue, judged with everything the ledger knows."""
    policy = settings.policy
    if grace is not None:
        if grace < 0:
            raise InputError("--grace must be 0 or more days")
        policy = replace(policy, grace_days=grace)
    inputs = settings.section("input")
    file, payments = Path(file), Path(payments) if payments is not None else None
    on_step(f"reading {file.name}")
    export = loader.read_orders(file, profiles.load(profile or inputs.get("profile", "generic")))
    filters = checked_filters(filters, export, policy)
    paid = None
    if payments is not None:
        on_step(f"reading {payments.name}")
        paid = loader.read_payments(payments, profiles.load(payments_profile or inputs.get("payments_profile", "generic")))
    on_step("reading the ledger")
    state = ledger_store.load(store)
    receivables = export.receivables_until(as_of)
    views = ledger.export_views(receivables)
    currency = state.currency_of(export.orders)
    new_payments = ledger.empty_payments()
    if paid is not None:
        new_payments, refused = _checked_file(paid, state, views, export.orders, currency, as_of)
        paid.rejects = pd.concat([f for f in (paid.rejects, refused) if not f.empty] or [paid.rejects], ignore_index=True)
    on_step("allocating payments and finding what is overdue")
    everything = pd.concat([state.payments, _unseen(new_payments, state.payments), _drops(state, views, currency, as_of, export)],
                           ignore_index=True)
    in_export = everything[contained(everything["order_id"], export.orders["order_id"])]
    ahead = export.receivables_until(as_of + timedelta(days=-policy.notice_stages[0].days)) if policy.notice_stages else receivables
    result = find(export.orders, ahead, as_of, policy, payments=ledger.pending_payments(in_export, currency, as_of),
                  filters=filters, history=state.history, closed=_closed(store))
    result.unmatched_payments = _unmatched(new_payments, export.orders)
    _show_what_only_the_ledger_knows(result, in_export, new_payments, as_of)
    return Found(export, paid, result, state, views, new_payments, as_of, filters)


def record(found: Found, store: Store, linked: pd.DataFrame | None) -> ledger_store.Recorded:
    """Record what the run learnt: the file's payments, the export's view of every order the ledger holds,
    and the orders in `linked` (those handed a link), so that every link handed out opens its page."""
    details = (linked if linked is not None else found.result.orders.iloc[0:0])[ledger_store.DETAILS]
    handed = set(details["order_id"]) | set(found.state.orders["order_id"])
    return ledger_store.record(
        store, found.state, details=details, views=found.views[contained(found.views["order_id"], handed)],
        as_of=found.as_of, source=found.source,
        new_payments=_unseen(found.new_payments, found.state.payments)[PAYMENT_COLUMNS],
    )


def _closed(store: Store) -> pd.Series:
    """The orders the merchant decided on (cancelled, written off, handed to collection): no further reminders."""
    made = decisions.decided(store)
    return pd.Series([f"{d.replace('_', ' ')} on {on.date().isoformat()} by the merchant" for d, on in
                      zip(made["decision"], made["decided_on"])], index=made["order_id"], dtype="object")


def _checked_file(paid: loader.PaymentExport, state: ledger.LedgerState, views: pd.DataFrame, orders: pd.DataFrame,
                  currency: pd.Series, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The payments file through the payment rules; what each order owes comes from this export where it shows it."""
    owed = payment_rules.owed(state, as_of)
    from_export = views.groupby("order_id")["amount_open"].sum()
    from_export = from_export.sub(ledger.pending(state.payments, as_of), fill_value=0).reindex(from_export.index)
    owed = pd.concat([owed[~owed.index.isin(from_export.index)], from_export])
    return payment_rules.checked(paid.payments, currency, owed, as_of, source=f"file:{paid.path.name}", file=str(paid.path))


def _unseen(rows: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    return rows[~contained(rows["payment_id"], stored["payment_id"])]


def _drops(state: ledger.LedgerState, views: pd.DataFrame, currency: pd.Series, as_of: date,
           export: loader.OrderExport) -> pd.DataFrame:
    """What this export shows paid since the ledger's earlier view of each order it holds."""
    older = state.orders.loc[pd.to_datetime(state.orders["as_of"]) < pd.Timestamp(as_of), "order_id"]
    before = state.views[contained(state.views["order_id"], older)]
    return ledger.drops(before, views[contained(views["order_id"], older)], currency, as_of, f"export:{export.path.name}")


def _show_what_only_the_ledger_knows(result: OverdueResult, payments: pd.DataFrame, inputs: pd.DataFrame, as_of: date) -> None:
    """`ledger_paid` per order: payments the ledger knows (the webhook, earlier files, bank statements) that
    neither this export nor this run's payments file shows."""
    shown = contained(payments["payment_id"], inputs["payment_id"]) | (payments["kind"] == ledger.DROP)
    concerned = payments[contained(payments["order_id"], payments.loc[~shown, "order_id"])]  # orders with payments beyond
    beyond = ledger.pending(concerned, as_of).sub(ledger.pending(concerned[shown[concerned.index]], as_of), fill_value=0).clip(lower=0)
    for frame in (result.orders, result.excluded):
        frame["ledger_paid"] = pd.array(looked_up(frame["order_id"], beyond.astype("int64"), default=0), dtype="Int64")


def _unmatched(rows: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Payments of the file for orders this export does not show, with why."""
    other = rows[~contained(rows["order_id"], orders["order_id"])]
    return other.assign(why="no such order in the export").reset_index(drop=True)
