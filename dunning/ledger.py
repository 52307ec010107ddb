"""The ledger: one truth about what each order owes, from the shop's export plus what the store knows.

The shop's export is the authority on what the shop considers open. The store adds what the shop
does not know yet. The rule that counts each euro once, per order:

* P = the payments recorded directly: payments files, the payment webhook, bank statements;
* D = the drops in open amount that the shop's own exports showed from one reading to the next
  (per installment, so an installment falling due is not mistaken for anything);
* the shop has received max(P, D): a drop explained by direct payments adds nothing, only the
  unexplained part D - P counts, as "paid to the shop directly";
* the latest export does not yet show max(P - D, 0); `open_amounts` applies that to the export's
  oldest open installments.

Every command that judges what is open (overdue, export, campaign prepare, the manage page, the
report) goes through `open_amounts`, so none of them can disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dunning.arrowtext import looked_up
from dunning.overdue import allocate
from dunning.schema import PAYMENT_COLUMNS

DIRECT, DROP, LEFT_LIST = "payment", "drop", "left_list"
VIEW_COLUMNS = ["order_id", "seq", "due_date", "amount_due", "amount_open"]


@dataclass
class LedgerState:
    """What the store knows: each order's latest export view, every payment, every reminder sent."""

    orders: pd.DataFrame  # order_id, currency, as_of (the date of the view), fee, and the details
    views: pd.DataFrame  # VIEW_COLUMNS: the export's installments as last read (before ledger payments)
    payments: pd.DataFrame  # PAYMENT_COLUMNS
    history: pd.DataFrame  # order_id, stage, reminded_on: reminders sent or handed over

    def currency_of(self, orders: pd.DataFrame | None = None) -> pd.Series:
        """Each order's currency: from `orders` (an export, or orders handed a link) where they show it, else the ledger's."""
        known = self.orders.set_index("order_id")["currency"]
        if orders is None:
            return known
        both = pd.concat([known, orders.set_index("order_id")["currency"]])
        return both[~both.index.duplicated(keep="last")]


def empty_payments() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "amount" else "datetime64[ns]" if c == "paid_at" else "object")
                         for c in PAYMENT_COLUMNS})


def pending(payments: pd.DataFrame, as_of: date) -> pd.Series:
    """Per order, what the ledger knows was paid that the shop's export does not show yet: max(P - D, 0)."""
    upto = payments[payments["paid_at"] <= pd.Timestamp(as_of)]
    direct = upto[upto["kind"] == DIRECT].groupby("order_id")["amount"].sum()
    dropped = upto[upto["kind"] == DROP].groupby("order_id")["amount"].sum()
    gap = direct.sub(dropped, fill_value=0)
    return gap[gap > 0].astype("int64")


def counted(payments: pd.DataFrame) -> pd.DataFrame:
    """The payment rows that make up what was received, each with the part of it that `counted`.

    Direct payments count whole; drops count only where no direct payment explains them (direct
    payments explain an order's drops oldest first).
    """
    direct = payments[payments["kind"] == DIRECT].assign(counted=lambda f: f["amount"].astype("int64"))
    drops = payments[payments["kind"] == DROP].sort_values(["order_id", "paid_at", "payment_id"], kind="stable")
    explaining = drops["order_id"].map(direct.groupby("order_id")["amount"].sum()).fillna(0).astype("int64")
    before = drops.groupby("order_id")["amount"].cumsum() - drops["amount"]
    explained = np.clip(explaining - before, 0, drops["amount"])
    drops = drops.assign(counted=(drops["amount"] - explained).astype("int64"))
    return pd.concat([direct, drops[drops["counted"] > 0]], ignore_index=True)


def export_views(receivables: pd.DataFrame) -> pd.DataFrame:
    """The export's own installments: what it says is due and open, none of the ledger's payments applied."""
    due = receivables["amount_due"].to_numpy(dtype="int64", na_value=0)
    paid = np.clip(receivables["amount_paid"].to_numpy(dtype="int64", na_value=0), 0, due)
    return pd.DataFrame({
        "order_id": receivables["order_id"].to_numpy(dtype=object), "seq": receivables["seq"].to_numpy(dtype="int64"),
        "due_date": pd.to_datetime(receivables["due_date"]).to_numpy(), "amount_due": due, "amount_open": due - paid,
    })


def drops(old: pd.DataFrame, new: pd.DataFrame, currency: pd.Series, as_of: date, source: str) -> pd.DataFrame:
    """Payment rows for what the shop's export shows paid since the last reading: per order, the sum
    over installments of how far each one's open amount fell (a rise, e.g. a reversed payment, is no drop)."""
    both = old[["order_id", "seq", "amount_open"]].merge(new[["order_id", "seq", "amount_open"]], on=["order_id", "seq"],
                                                            suffixes=("_before", "_now"))
    fell = (both["amount_open_before"] - both["amount_open_now"]).clip(lower=0)
    per_order = fell.groupby(both["order_id"]).sum()
    per_order = per_order[per_order > 0]
    return pd.DataFrame({
        "payment_id": [f"drop:{o}:{as_of.isoformat()}" for o in per_order.index], "order_id": per_order.index.astype(object),
        "paid_at": pd.Timestamp(as_of), "amount": per_order.to_numpy(dtype="int64"),
        "currency": per_order.index.map(currency).astype(object), "kind": DROP, "source": source, "flag": "",
    }, columns=PAYMENT_COLUMNS)


def pending_payments(payments: pd.DataFrame, currency: pd.Series, as_of: date) -> pd.DataFrame:
    """`pending` as one payment row per order, for the allocation of the export's open installments."""
    gap = pending(payments, as_of)
    return pd.DataFrame({
        "order_id": pd.Series(gap.index, dtype="string"), "paid_at": pd.Timestamp(as_of),
        "amount": gap.to_numpy(dtype="int64"), "currency": looked_up(pd.Series(gap.index), currency).fillna("").astype("string"),
        "payment_id": "ledger:" + pd.Series(gap.index, dtype="string"),
    })


def open_installments(views: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One order's (or many orders') stored installments with the ledger's pending payments applied."""
    if views.empty:
        return views.assign(amount_paid=views["amount_due"])
    gap = pending(payments, as_of)
    frame = pd.DataFrame({"order_id": gap.index.astype(object), "paid_at": pd.Timestamp(as_of), "amount": gap.to_numpy()})
    receivables = views.assign(amount_paid=views["amount_due"] - views["amount_open"])
    allocated, _ = allocate(receivables, frame, as_of)
    return allocated


def one_order(views: list[tuple[int, date, int, int]], payments: list[tuple[str, date, int]],
              as_of: date) -> list[tuple[int, date, int, int, int]]:
    """`open_installments` for a single order, in plain Python (the customer's page answers in a millisecond):
    views are (seq, due_date, amount_due, amount_open), payments (kind, paid_at, amount); returns
    (seq, due_date, amount_due, amount_paid, amount_open) oldest first."""
    direct = sum(amount for kind, paid_at, amount in payments if kind == DIRECT and paid_at <= as_of)
    dropped = sum(amount for kind, paid_at, amount in payments if kind == DROP and paid_at <= as_of)
    left = max(direct - dropped, 0)
    out = []
    for seq, due_date, due, still in sorted(views, key=lambda v: (v[1], v[0])):
        applied = min(left, still)
        left -= applied
        out.append((seq, due_date, due, due - still + applied, still - applied))
    return out
