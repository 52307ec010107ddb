"""What a manage link shows: order details recorded when links are handed out, and the view of one order."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd

from dunning.store import Store
from dunning.tracking import DROP, PAYMENT


def record(store: Store, overdue: pd.DataFrame, installments: pd.DataFrame, as_of: date) -> None:
    """Store, per order handed a link, who it is, what it is for and each installment (due, paid, open)."""
    by_order = {order_id: group for order_id, group in installments.groupby("order_id")} if len(installments) else {}
    rows = []
    for order in overdue.to_dict("records"):
        plan = by_order.get(order["order_id"], pd.DataFrame(columns=["seq", "due_date", "amount_due", "amount_paid", "amount_open"]))
        rows.append({
            "order_id": order["order_id"], "email": order["email"], "first_name": order["first_name"],
            "last_name": order["last_name"], "language": order["language"], "product_name": order["product_name"],
            "currency": order["currency"], "fee": int(order["fee"]), "as_of": as_of,
            "installments": json.dumps([
                {"seq": int(r.seq), "due_date": pd.Timestamp(r.due_date).date().isoformat(), "due": int(r.amount_due),
                 "paid": int(r.amount_paid), "open": int(r.amount_open)}
                for r in plan.itertuples()]),
        })
    store.save_orders(rows)


@dataclass(frozen=True)
class Installment:
    seq: int
    due_date: date
    due: int
    paid: int
    open: int


@dataclass(frozen=True)
class OrderView:
    """One order as its customer sees it, as of `today`."""

    order_id: str
    first_name: str
    last_name: str
    email: str
    language: str
    product_name: str
    currency: str
    installments: list[Installment]
    fee: int
    paid_since: int
    open_due: int
    open_later: int
    recorded_on: date

    @property
    def open_now(self) -> int:
        """What is due and still open, after the payments that came in since the details were recorded."""
        return max(self.open_due - self.paid_since, 0)

    @property
    def settled(self) -> bool:
        return self.open_now == 0


def view(store: Store, order_id: str, today: date) -> OrderView | None:
    """The order behind a link, or None when the store has no details for it."""
    row = store.order(order_id)
    if row is None:
        return None
    plan = [Installment(i["seq"], date.fromisoformat(i["due_date"]), i["due"], i["paid"], i["open"])
            for i in json.loads(row.installments)]
    paid_since = sum(p.amount for p in store.order_payments(order_id)
                     if p.kind in (PAYMENT, DROP) and p.paid_at >= row.as_of and p.currency == row.currency)
    return OrderView(
        order_id=row.order_id, first_name=row.first_name, last_name=row.last_name, email=row.email,
        language=row.language, product_name=row.product_name, currency=row.currency, installments=plan,
        fee=int(row.fee), paid_since=int(paid_since),
        open_due=sum(i.open for i in plan if i.due_date <= today),
        open_later=sum(i.open for i in plan if i.due_date > today), recorded_on=row.as_of,
    )
