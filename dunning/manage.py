"""What a manage link shows: one order as the ledger knows it, judged with the same rule as every command."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from dunning import ledger
from dunning.schema import PAYMENT_COLUMNS, installments, payments
from dunning.store import Store


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
    open_now: int
    open_later: int
    recorded_on: date

    @property
    def settled(self) -> bool:
        return self.open_now == 0


def view(store: Store, order_id: str, today: date) -> OrderView | None:
    """The order behind a link, or None when the ledger does not hold it.

    The installments are the shop's latest view with the ledger's payments applied oldest first
    (`ledger.open_installments`), so every figure on the page comes from one computation."""
    row = store.order(order_id)
    if row is None:
        return None
    views = store.frame(installments, ledger.VIEW_COLUMNS, installments.c.order_id == order_id)
    paid = store.frame(payments, PAYMENT_COLUMNS, payments.c.order_id == order_id)
    plan = ledger.open_installments(views, paid, today)
    items = [Installment(int(r.seq), pd.Timestamp(r.due_date).date(), int(r.amount_due), int(r.amount_paid), int(r.amount_open))
             for r in plan.itertuples()]
    return OrderView(
        order_id=row.order_id, first_name=row.first_name, last_name=row.last_name, email=row.email,
        language=row.language, product_name=row.product_name, currency=row.currency, installments=items,
        fee=int(row.fee), paid_since=_paid_since(paid, row.as_of, today),
        open_now=sum(i.open for i in items if i.due_date <= today),
        open_later=sum(i.open for i in items if i.due_date > today), recorded_on=row.as_of,
    )


def _paid_since(paid: pd.DataFrame, recorded_on: date, today: date) -> int:
    """Payments the ledger received directly (webhook, file, bank) since the shop's export was last read."""
    direct = paid[(paid["kind"] == ledger.DIRECT) & (paid["paid_at"] >= pd.Timestamp(recorded_on))
                  & (paid["paid_at"] <= pd.Timestamp(today))]
    return int(direct["amount"].sum())
