"""Payment allocation, open amounts as of a date, stages, reasons, exclusions and filters."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dunning import exclusions, stages
from dunning.columns import NOTICE_COLUMNS, OVERDUE_COLUMNS
from dunning.notices import upcoming
from dunning.policy import Policy
from dunning.arrowtext import arrow_strings

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


@dataclass(frozen=True)
class Filters:
    """Narrow the overdue list; empty means no filter. `min_amount` is in major units of each order's currency."""

    kinds: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    min_days: int = 0
    min_amount: Decimal | None = None

    def describe(self) -> dict:
        """The filters that are set, for manifests and file names."""
        out = {k: list(v) for k, v in vars(self).items() if isinstance(v, tuple) and v}
        if self.min_days:
            out["min_days"] = self.min_days
        if self.min_amount is not None:
            out["min_amount"] = str(self.min_amount)
        return out


@dataclass
class OverdueResult:
    """The orders to dun, those left out and why, and payments that matched no order."""

    orders: pd.DataFrame
    excluded: pd.DataFrame
    unmatched_payments: pd.DataFrame = field(default_factory=pd.DataFrame)
    as_of: date | None = None
    installments: pd.DataFrame = field(default_factory=pd.DataFrame)
    notices: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NOTICE_COLUMNS))

    def totals(self) -> pd.DataFrame:
        """Orders and open amount per currency (never one total across currencies)."""
        return _totals(self.orders)


def allocate(receivables: pd.DataFrame, payments: pd.DataFrame | None, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply payments made on or before `as_of` to each order's oldest open amounts first.

    Returns the receivables (sorted by order and due date) with `amount_paid` updated and
    `amount_open`, and per order the `credit` left after everything due was paid.
    """
    keys = pd.Series(receivables["order_id"].unique(), dtype="string")
    rec_codes = codes_for(receivables["order_id"], keys)
    pay_codes = codes_for(payments["order_id"], keys) if payments is not None else None
    rec, paid_total, outstanding = _allocate(receivables, rec_codes, payments, pay_codes, len(keys), as_of)
    rec.insert(0, "order_id", keys.take(rec.pop("code")).reset_index(drop=True))
    credit = pd.DataFrame({"order_id": keys, "credit": np.maximum(paid_total - outstanding, 0)})
    return rec, credit


def codes_for(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value among `keys` (-1 where absent), hashed once by Arrow."""
    found = pc.index_in(arrow_strings(values), value_set=arrow_strings(keys))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


def _allocate(
    receivables: pd.DataFrame, rec_codes: np.ndarray, payments: pd.DataFrame | None,
    pay_codes: np.ndarray | None, n_orders: int, as_of: date,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Allocation on integer order codes.

    Returns the known receivables sorted by (code, due date, seq) as a frame of code, seq,
    due_date, amount_due, amount_paid, amount_open; and per code the paid total and outstanding.
    """
    due_days = receivables["due_date"].to_numpy(dtype="datetime64[D]")
    seq = receivables["seq"].to_numpy(dtype="int64")
    order = np.lexsort((seq, due_days, rec_codes))
    order = order[rec_codes[order] >= 0]
    codes = rec_codes[order]
    due = receivables["amount_due"].to_numpy(dtype="int64", na_value=0)[order]
    already = np.minimum(receivables["amount_paid"].to_numpy(dtype="int64", na_value=0)[order], due)
    remaining = due - already
    paid_total = np.zeros(n_orders, dtype="int64")
    if payments is not None and not payments.empty:
        counted = (pay_codes >= 0) & (payments["paid_at"] <= pd.Timestamp(as_of)).to_numpy(dtype=bool)
        np.add.at(paid_total, pay_codes[counted], payments["amount"].to_numpy(dtype="int64", na_value=0)[counted])
    outstanding = np.zeros(n_orders, dtype="int64")
    np.add.at(outstanding, codes, remaining)
    before = _cumsum_by_group(remaining, codes) - remaining
    applied = np.clip(paid_total[codes] - before, 0, remaining)
    rec = pd.DataFrame({
        "code": codes, "seq": seq[order], "due_date": due_days[order],
        "amount_due": due, "amount_paid": already + applied, "amount_open": remaining - applied,
    })
    return rec, paid_total, outstanding


def _cumsum_by_group(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Running total within each group; rows of a group are contiguous."""
    if len(values) == 0:
        return values
    total = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1]
    offsets = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
    return total - offsets


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
) -> OverdueResult:
    """Orders with something open past due + grace as of `as_of`, staged, with reasons.

    `history` (order_id, stage, reminded_on: the reminders sent, from any channel) sets each order's
    next stage (never one it skipped, unless the policy allows it) and applies the cooldown. `closed` (order_id ->
    the merchant's decision, e.g. "written off on 2026-12-01") leaves those orders out.
    """
    orders = orders.reset_index(drop=True)
    rec_codes = codes_for(receivables["order_id"], orders["order_id"])
    usable, unmatched, pay_codes = _match_payments(orders, payments)
    rec, paid_total, _ = _allocate(receivables, rec_codes, usable, pay_codes, len(orders), as_of)
    cutoff = np.datetime64(as_of - timedelta(days=policy.grace_days), "D")
    open_amount = rec["amount_open"].to_numpy()
    due_days = rec["due_date"].to_numpy()
    late = (open_amount > 0) & (due_days < cutoff)
    codes = rec["code"].to_numpy()
    late_open = np.zeros(len(orders), dtype="int64")
    np.add.at(late_open, codes[late], open_amount[late])
    oldest = np.full(len(orders), np.datetime64("NaT"), dtype="datetime64[D]")
    late_codes, first_late = np.unique(codes[late], return_index=True)
    oldest[late_codes] = due_days[late][first_late]
    paid = np.zeros(len(orders), dtype="int64")
    np.add.at(paid, codes, rec["amount_paid"].to_numpy())
    counts = np.bincount(codes[late], minlength=len(orders))

    frame = orders.take(late_codes).copy()
    frame["open_amount"] = pd.array(late_open[late_codes], dtype="Int64")
    frame["paid_amount"] = pd.array(paid[late_codes], dtype="Int64")
    frame["open_installments"] = counts[late_codes]
    frame["days_overdue"] = (np.datetime64(as_of, "D") - oldest[late_codes]).astype("int64")
    frame["oldest_due_date"] = pd.Series(oldest[late_codes], index=frame.index).dt.date
    waiting = stages.assign(frame, policy, history, as_of)
    frame["reason"] = reasons(frame)
    why = exclusions.why_not(frame, as_of, policy, waiting, closed)
    excluded = frame[why != ""].assign(why=why[why != ""])
    chosen = exclusions.filtered(frame[why == ""], filters)
    chosen = chosen.sort_values(["days_overdue", "order_id"], ascending=[False, True], kind="stable")
    picked = rec[np.isin(codes, chosen.index.to_numpy())]
    installments = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy()[picked["code"].to_numpy()], "seq": picked["seq"].to_numpy(),
        "due_date": picked["due_date"].to_numpy(), "amount_due": picked["amount_due"].to_numpy(),
        "amount_paid": picked["amount_paid"].to_numpy(), "amount_open": picked["amount_open"].to_numpy(),
    })
    notices = upcoming(orders, rec, late_open, paid, as_of, policy, history, filters, closed)
    return OverdueResult(
        orders=chosen[OVERDUE_COLUMNS].reset_index(drop=True),
        excluded=excluded[OVERDUE_COLUMNS + ["why"]].reset_index(drop=True),
        unmatched_payments=unmatched,
        as_of=as_of,
        installments=installments,
        notices=notices,
    )


def _match_payments(orders: pd.DataFrame, payments: pd.DataFrame | None) -> tuple[pd.DataFrame | None, pd.DataFrame, np.ndarray | None]:
    """Payments that belong to an order in its currency (with their order codes), and the others with why."""
    if payments is None or payments.empty:
        empty = pd.DataFrame(columns=["order_id", "paid_at", "amount", "currency", "payment_id", "why"])
        return None, empty, None
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
    return payments[good].reset_index(drop=True), bad.reset_index(drop=True), codes[good]


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
