"""Payment allocation, open amounts as of a date, stages, reasons, exclusions and filters."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from dunning.money import exponent
from dunning.policy import Policy
from dunning.sources.loader import CLOSED_STATUSES

MANUAL_METHODS = frozenset({"bank_transfer", "prepayment", "sofort", "invoice", "manual", "cash_on_delivery"})
REASONS = {
    "chargeback": "the customer charged the payment back",
    "insufficient_funds": "the bank refused for lack of funds",
    "failed_debit": "an automatic debit failed",
    "manual_payment": "the payment method does not debit automatically",
    "no_response": "the customer did not respond to the payment request",
}
_FAILURE_WORDS = {
    "chargeback": "chargeback", "charged_back": "chargeback", "dispute": "chargeback", "disputed": "chargeback",
    "insufficient_funds": "insufficient_funds", "insufficient_balance": "insufficient_funds",
    "failed": "failed_debit", "failed_debit": "failed_debit", "declined": "failed_debit",
    "card_declined": "failed_debit", "generic_decline": "failed_debit", "do_not_honor": "failed_debit",
}
OVERDUE_COLUMNS = [
    "order_id", "email", "first_name", "last_name", "language", "product_name", "kind",
    "payment_method", "currency", "status", "open_amount", "paid_amount", "fee", "oldest_due_date",
    "days_overdue", "open_installments", "stage", "reason",
]


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

    def totals(self) -> pd.DataFrame:
        """Orders and open amount per currency (never one total across currencies)."""
        return _totals(self.orders)


def allocate(receivables: pd.DataFrame, payments: pd.DataFrame | None, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply payments made on or before `as_of` to each order's oldest open amounts first.

    Returns the receivables with `amount_paid` updated and `amount_open`, and per order the
    `credit` left after everything due was paid.
    """
    rec = receivables.sort_values(["order_id", "due_date", "seq"], kind="stable").reset_index(drop=True)
    due = rec["amount_due"].to_numpy(dtype="int64", na_value=0)
    already = np.minimum(rec["amount_paid"].to_numpy(dtype="int64", na_value=0), due)
    remaining = due - already
    order_codes, order_index = pd.factorize(rec["order_id"])
    paid_total = np.zeros(len(order_index), dtype="int64")
    if payments is not None and not payments.empty:
        counted = payments[payments["paid_at"] <= pd.Timestamp(as_of)]
        sums = counted.groupby("order_id")["amount"].sum()
        paid_total = sums.reindex(order_index).fillna(0).to_numpy(dtype="int64")
    before = _cumsum_by_group(remaining, order_codes) - remaining
    applied = np.clip(paid_total[order_codes] - before, 0, remaining)
    rec["amount_paid"] = pd.array(already + applied, dtype="Int64")
    rec["amount_open"] = pd.array(remaining - applied, dtype="Int64")
    outstanding = np.bincount(order_codes, weights=remaining, minlength=len(order_index)).astype("int64")  # money-safe: exact below 2**53
    credit = pd.DataFrame({"order_id": order_index, "credit": np.maximum(paid_total - outstanding, 0)})
    return rec, credit


def _cumsum_by_group(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Running total within each group; rows of a group are contiguous."""
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
    last_reminded: pd.DataFrame | None = None,
) -> OverdueResult:
    """Orders with something open past due + grace as of `as_of`, staged, with reasons.

    `last_reminded` (order_id, reminded_at) applies the policy's cooldown.
    """
    unmatched = _unmatched_payments(orders, payments)
    rec, _ = allocate(receivables, _matched_payments(orders, payments), as_of)
    cutoff = pd.Timestamp(as_of - timedelta(days=policy.grace_days))
    late = rec[(rec["amount_open"] > 0) & (rec["due_date"] < cutoff)]
    per_order = late.groupby("order_id", sort=False).agg(
        open_amount=("amount_open", "sum"), oldest_due_date=("due_date", "min"), open_installments=("seq", "size"),
    )
    per_order["paid_amount"] = rec.groupby("order_id")["amount_paid"].sum().reindex(per_order.index)
    frame = orders.merge(per_order, left_on="order_id", right_index=True, how="inner")
    frame["days_overdue"] = (pd.Timestamp(as_of) - frame["oldest_due_date"]).dt.days.astype("int64")
    frame["oldest_due_date"] = frame["oldest_due_date"].dt.date
    _stage_and_fee(frame, policy)
    frame["reason"] = reasons(frame)
    why = _exclusions(frame, as_of, policy, last_reminded)
    excluded = frame[why != ""].assign(why=why[why != ""])
    chosen = _apply_filters(frame[why == ""], filters)
    chosen = chosen.sort_values(["days_overdue", "order_id"], ascending=[False, True], kind="stable")
    return OverdueResult(
        orders=chosen[OVERDUE_COLUMNS].reset_index(drop=True),
        excluded=excluded[OVERDUE_COLUMNS + ["why"]].reset_index(drop=True),
        unmatched_payments=unmatched,
        as_of=as_of,
    )


def _matched_payments(orders: pd.DataFrame, payments: pd.DataFrame | None) -> pd.DataFrame | None:
    if payments is None or payments.empty:
        return payments
    currency = payments["order_id"].map(orders.set_index("order_id")["currency"])
    same = payments["currency"].eq("") | payments["currency"].eq(currency)
    return payments[currency.notna() & same]


def _unmatched_payments(orders: pd.DataFrame, payments: pd.DataFrame | None) -> pd.DataFrame:
    """Payments for no order in the export, or in another currency than the order's."""
    if payments is None or payments.empty:
        return pd.DataFrame(columns=["order_id", "paid_at", "amount", "currency", "payment_id", "why"])
    currency = payments["order_id"].map(orders.set_index("order_id")["currency"])
    why = pd.Series("", index=payments.index, dtype="string")
    why[currency.isna()] = "no such order in the export"
    other = currency.notna() & (payments["currency"] != "") & (payments["currency"] != currency)
    why[other] = "currency differs from the order's (" + currency[other].astype("string") + ")"
    return payments[why != ""].assign(why=why[why != ""]).reset_index(drop=True)


def _stage_and_fee(frame: pd.DataFrame, policy: Policy) -> None:
    """The furthest stage reached and its fee in the order's currency ("" and 0 before the first stage)."""
    stage = pd.Series("", index=frame.index, dtype="string")
    fee = pd.Series(0, index=frame.index, dtype="Int64")
    for s in policy.stages:
        reached = frame["days_overdue"] >= s.days
        stage[reached] = s.name
        fee[reached] = frame.loc[reached, "currency"].map(s.fees).fillna(0).astype("Int64")
    frame["stage"] = stage
    frame["fee"] = fee


def reasons(frame: pd.DataFrame) -> pd.Series:
    """Why the money did not come in, as far as the data tells (see REASONS)."""
    failure = frame["failure"].map(_FAILURE_WORDS) if "failure" in frame else pd.Series(pd.NA, index=frame.index)
    from_status = frame["status"].map(_FAILURE_WORDS)
    manual = frame["payment_method"].isin(MANUAL_METHODS).map({True: "manual_payment", False: pd.NA})
    reason = failure.fillna(from_status).fillna(manual).fillna("no_response")
    return reason.astype("string")


def _exclusions(frame: pd.DataFrame, as_of: date, policy: Policy, last_reminded: pd.DataFrame | None) -> pd.Series:
    """Why an overdue order is not dunned ("" when it is)."""
    why = pd.Series("", index=frame.index, dtype="string")

    def mark(mask: pd.Series, text: str | pd.Series) -> None:
        mask = mask & (why == "")
        why[mask] = text[mask] if isinstance(text, pd.Series) else text

    mark(frame["status"].isin(CLOSED_STATUSES), "order is " + frame["status"].astype("string"))
    mark(frame["status"] == "paid", "the shop marks the order as paid")
    for hold in policy.holds:
        if not hold.active(as_of):
            continue
        target = frame["order_id"] == hold.order_id if hold.order_id else frame["email"].str.lower() == hold.email
        until = f" until {hold.until.isoformat()}" if hold.until else ""
        mark(target, f"on hold{until}: {hold.reason}")
    minimum = frame["currency"].map(policy.minimum_amount).fillna(0).astype("int64")
    mark(frame["open_amount"] < minimum, "below the minimum amount")
    if last_reminded is not None and not last_reminded.empty and policy.cooldown_days:
        last = frame["order_id"].map(last_reminded.groupby("order_id")["reminded_at"].max())
        recent = pd.to_datetime(last) > pd.Timestamp(as_of - timedelta(days=policy.cooldown_days))
        mark(recent.fillna(False), f"reminded within the last {policy.cooldown_days} days")
    return why


def _apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for column, wanted in (
        ("kind", filters.kinds), ("payment_method", filters.payment_methods),
        ("currency", filters.currencies), ("stage", filters.stages),
    ):
        if wanted:
            keep &= frame[column].isin(wanted)
    if filters.products:
        folded = frame["product_name"].str.casefold()
        keep &= np.logical_or.reduce([folded.str.contains(p.casefold(), regex=False) for p in filters.products])
    if filters.min_days:
        keep &= frame["days_overdue"] >= filters.min_days
    if filters.min_amount is not None:
        minimum = frame["currency"].map(lambda c: math.ceil(filters.min_amount.scaleb(exponent(c))))
        keep &= frame["open_amount"] >= minimum
    return frame[keep]


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["currency", "orders", "open_amount", "fees"])
    grouped = frame.groupby("currency", sort=True).agg(
        orders=("order_id", "size"), open_amount=("open_amount", "sum"), fees=("fee", "sum")
    )
    return grouped.reset_index()
