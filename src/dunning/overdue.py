"""Open amounts as of a date, stages, reasons, exclusions and filters: the overdue orders, judged on the one balance."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dunning import exclusions, stages
from dunning.law import asked
from dunning.law.asked import Statute
from dunning.arrowtext import arrow_strings
from dunning.columns import NOTICE_COLUMNS, OVERDUE_COLUMNS
from dunning.exclusions import Filters
from dunning.journal.balance import INSTALLMENT, Settled, settle
from dunning.notices import upcoming
from dunning.policy import Policy

MANUAL_METHODS = frozenset({"bank_transfer", "prepayment", "sofort", "invoice", "manual", "cash_on_delivery"})
REASONS = {
    "chargeback": "the customer charged the payment back",
    "insufficient_funds": "the bank refused for lack of funds",
    "failed_debit": "an automatic debit failed",
    "manual_payment": "the payment method does not debit automatically",
    "no_response": "the customer did not respond to the payment request",
    "upcoming": "an installment falls due soon (a notice before the due date)",
}
_FAILURE_WORDS = {
    "chargeback": "chargeback", "charged_back": "chargeback", "dispute": "chargeback", "disputed": "chargeback",
    "insufficient_funds": "insufficient_funds", "insufficient_balance": "insufficient_funds",
    "failed": "failed_debit", "failed_debit": "failed_debit", "declined": "failed_debit",
    "card_declined": "failed_debit", "generic_decline": "failed_debit", "do_not_honor": "failed_debit",
}
EVER = pd.Timestamp("1900-01-01")  # the date a shop's own "paid" counts from: before any as-of date


@dataclass
class OverdueResult:
    """The orders to dun, those left out and why, and payments that matched no order."""

    orders: pd.DataFrame
    excluded: pd.DataFrame
    unmatched_payments: pd.DataFrame = field(default_factory=pd.DataFrame)
    as_of: date | None = None
    notices: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NOTICE_COLUMNS))

    def totals(self) -> pd.DataFrame:
        """Orders and open amount per currency (never one total across currencies)."""
        return _totals(self.orders)


def find(
    orders: pd.DataFrame,
    receivables: pd.DataFrame,
    as_of: date,
    policy: Policy,
    *,
    payments: pd.DataFrame | None = None,
    filters: Filters = Filters(),
    history: pd.DataFrame | None = None,
    closed: pd.Series | None = None,
    statute: Statute | None = None,
) -> OverdueResult:
    """Orders with something open past due + grace as of `as_of`, staged, with reasons, judged without any store:
    the receivables are the charges, what they say was paid and the `payments` (order_id, paid_at, amount, currency)
    are the money in, settled by the one balance (`journal.balance.settle`).

    `history` (order_id, stage, reminded_on: the reminders sent, from any channel) sets each order's
    next stage (never one it skipped, unless the policy allows it) and applies the cooldown. `closed` (order_id ->
    the merchant's decision, e.g. "written off on 2026-12-01") leaves those orders out. `statute` (the law the policy
    follows) sets the default interest and costs each reminder asks.
    """
    orders = orders.reset_index(drop=True)
    code = codes_for(receivables["order_id"], orders["order_id"])
    due = receivables["amount_due"].to_numpy(dtype="int64", na_value=0)
    charged = pd.DataFrame({"code": code, "kind": INSTALLMENT, "seq": receivables["seq"].to_numpy(dtype="int64"),
                            "due_date": receivables["due_date"].to_numpy(dtype="datetime64[D]"), "amount": due})
    shop_paid = np.minimum(receivables["amount_paid"].to_numpy(dtype="int64", na_value=0), due)
    moved = [pd.DataFrame({"code": code, "amount": shop_paid, "occurred_on": EVER})]
    usable, unmatched = _usable_payments(orders, payments)
    if usable is not None:
        moved.append(usable)
    settled = settle(charged, pd.concat(moved, ignore_index=True), len(orders), as_of)
    result = judge(orders, settled, np.arange(len(orders)), as_of, policy, filters=filters, history=history, closed=closed,
                   statute=statute)
    result.unmatched_payments = unmatched
    return result


def judge(orders: pd.DataFrame, settled: Settled, codes: np.ndarray, as_of: date, policy: Policy, *,
          filters: Filters = Filters(), history: pd.DataFrame | None = None, closed: pd.Series | None = None,
          statute: Statute | None = None, claims: pd.DataFrame | None = None) -> OverdueResult:
    """`find` on a balance settled already: `orders` (positions 0..n-1), and `codes`, each order's code in `settled`;
    `claims` (per order id: the interest and costs its reminders asked, `journal.queue.claims`) keeps a reminder from
    asking them twice."""
    orders = orders.reset_index(drop=True)
    n = len(orders)
    place = np.full(max(len(settled.paid), 1), -1, dtype="int64")
    place[codes] = np.arange(n)
    rec = settled.installments(place)
    cutoff = np.datetime64(as_of - timedelta(days=policy.grace_days), "D")
    open_amount = rec["amount_open"].to_numpy()
    due_days = rec["due_date"].to_numpy(dtype="datetime64[D]")
    late = (open_amount > 0) & (due_days < cutoff)
    row_codes = rec["code"].to_numpy()
    late_open = np.zeros(n, dtype="int64")
    np.add.at(late_open, row_codes[late], open_amount[late])
    oldest = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    late_codes, first_late = np.unique(row_codes[late], return_index=True)
    oldest[late_codes] = due_days[late][first_late]
    paid = settled.principal_paid[codes]
    counts = np.bincount(row_codes[late], minlength=n)

    frame = orders.take(late_codes).copy()
    frame["open_amount"] = pd.array(late_open[late_codes], dtype="Int64")
    frame["paid_amount"] = pd.array(paid[late_codes], dtype="Int64")
    frame["fees_open"] = pd.array(settled.fees_open[codes][late_codes], dtype="Int64")
    frame["open_installments"] = counts[late_codes]
    frame["days_overdue"] = (np.datetime64(as_of, "D") - oldest[late_codes]).astype("int64")
    frame["oldest_due_date"] = pd.Series(oldest[late_codes], index=frame.index).dt.date
    waiting = stages.assign(frame, policy, history, as_of)
    asked.ask(frame, settled, codes[late_codes], history, claims, statute, as_of)
    frame["reason"] = reasons(frame)
    why = exclusions.why_not(frame, as_of, policy, waiting, closed)
    excluded = frame[why != ""].assign(why=why[why != ""])
    chosen = exclusions.filtered(frame[why == ""], filters)
    chosen = chosen.sort_values(["days_overdue", "order_id"], ascending=[False, True], kind="stable")
    notices = upcoming(orders, rec, late_open, paid, as_of, policy, history, filters, closed)
    return OverdueResult(
        orders=chosen[OVERDUE_COLUMNS].reset_index(drop=True),
        excluded=excluded[OVERDUE_COLUMNS + ["why"]].reset_index(drop=True),
        as_of=as_of,
        notices=notices,
    )


def codes_for(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value among `keys` (-1 where absent), hashed once by Arrow."""
    found = pc.index_in(arrow_strings(values), value_set=arrow_strings(keys))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


def _usable_payments(orders: pd.DataFrame, payments: pd.DataFrame | None) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Payments that belong to an order in its currency (as code, amount, occurred_on), and the others with why."""
    if payments is None or payments.empty:
        return None, pd.DataFrame(columns=["order_id", "paid_at", "amount", "currency", "payment_id", "why"])
    codes = codes_for(payments["order_id"], orders["order_id"])
    unknown = codes < 0
    order_currency = arrow_strings(orders["currency"]).take(pa.array(np.maximum(codes, 0)))
    currency = arrow_strings(payments["currency"])
    differs = pc.and_(pc.not_equal(currency, ""), pc.not_equal(currency, order_currency)).to_numpy(zero_copy_only=False)
    other = ~unknown & differs
    good = ~unknown & ~other
    bad = payments[~good].copy()
    bad["why"] = "no such order in the export"
    mismatched = other[~good]
    bad.loc[mismatched, "why"] = "currency differs from the order's (" + pd.Series(
        order_currency.to_numpy(zero_copy_only=False)[other], index=bad.index[mismatched]) + ")"
    usable = pd.DataFrame({"code": codes[good], "amount": payments["amount"].to_numpy(dtype="int64", na_value=0)[good],
                           "occurred_on": pd.to_datetime(payments["paid_at"]).to_numpy()[good]})
    return usable, bad.reset_index(drop=True)


def reasons(frame: pd.DataFrame) -> pd.Series:
    """Why the money did not come in, as far as the data tells (see REASONS)."""
    failure = frame["failure"].map(_FAILURE_WORDS) if "failure" in frame else pd.Series(pd.NA, index=frame.index)
    from_status = frame["status"].map(_FAILURE_WORDS)
    manual = frame["payment_method"].isin(MANUAL_METHODS).map({True: "manual_payment", False: pd.NA})
    reason = failure.fillna(from_status).fillna(manual).fillna("no_response")
    return reason.astype("string")


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["currency", "orders", "open_amount", "fees"])
    grouped = frame.groupby("currency", sort=True).agg(
        orders=("order_id", "size"), open_amount=("open_amount", "sum"), fees=("fee", "sum")
    )
    return grouped.reset_index()
