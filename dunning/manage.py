"""What a manage link shows: one order as the ledger knows it, judged with the same rule as every command."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dunning import ledger
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
    last_stage: str = ""
    last_reminded_on: date | None = None
    as_of: date | None = None

    @property
    def next_due(self) -> Installment | None:
        """The next open installment not yet due (what a notice before the due date announces), if any."""
        return next((i for i in self.installments if i.open > 0 and self.as_of is not None and i.due_date > self.as_of), None)

    @property
    def to_pay(self) -> int:
        """What the page asks for: what is open now with the fee, or else the next installment to fall due."""
        if self.open_now or self.fee:
            return self.open_now + self.fee
        return self.next_due.open if self.next_due else 0

    @property
    def settled(self) -> bool:
        """Nothing open now and nothing left to fall due."""
        return self.to_pay == 0


def view(store: Store, order_id: str, today: date) -> OrderView | None:
    """The order behind a link, or None when the ledger does not hold it.

    The installments are the shop's latest view with the ledger's payments applied oldest first,
    by the ledger's rule (`ledger.one_order`), so every figure on the page comes from one computation."""
    row, views, recorded, last = store.order_page(order_id)
    if row is None:
        return None
    paid = [(p.kind, p.paid_at, p.amount) for p in recorded]
    plan = ledger.one_order([(i.seq, i.due_date, i.amount_due, i.amount_open) for i in views], paid, today)
    items = [Installment(*item) for item in plan]
    since = sum(amount for kind, paid_at, amount in paid if kind == ledger.DIRECT and row.as_of <= paid_at <= today)
    return OrderView(
        order_id=row.order_id, first_name=row.first_name, last_name=row.last_name, email=row.email,
        language=row.language, product_name=row.product_name, currency=row.currency, installments=items,
        fee=int(row.fee), paid_since=since, open_now=sum(i.open for i in items if i.due_date <= today),
        open_later=sum(i.open for i in items if i.due_date > today), recorded_on=row.as_of,
        last_stage=last.stage if last else "", last_reminded_on=last.reminded_on if last else None, as_of=today,
    )
