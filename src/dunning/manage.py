"""What a manage link shows: one order as the ledger knows it, judged with the same rule as every command."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa

from dunning.journal.balance import KINDS, settle_arrays
from dunning.journal.matcher import EXPORT
from dunning.journal.sql import fetch_bound
from dunning.journal.store import Store
from dunning.journal.tables import SENT, charges, movements, orders, reminders


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
    fee: int  # fees charged by reminders that were sent, still open
    interest: int  # default interest charged by reminders that were sent, still open
    costs: int  # lump sums and collection costs charged by reminders that were sent, still open
    paid_since: int
    open_now: int
    open_later: int
    recorded_on: date
    last_stage: str = ""
    last_reminded_on: date | None = None
    as_of: date | None = None
    order_key: int = 0  # the order's number in the ledger (its creditor reference carries it)

    @property
    def next_due(self) -> Installment | None:
        """The next open installment not yet due (what a notice before the due date announces), if any."""
        return next((i for i in self.installments if i.open > 0 and self.as_of is not None and i.due_date > self.as_of), None)

    @property
    def charged(self) -> int:
        """The fees, interest and costs still open: charged apart from the order."""
        return self.fee + self.interest + self.costs

    @property
    def to_pay(self) -> int:
        """What the page asks for: what is open now with fees, interest and costs, or else the next installment to fall due."""
        if self.open_now or self.charged:
            return self.open_now + self.charged
        return self.next_due.open if self.next_due else 0

    @property
    def settled(self) -> bool:
        """Nothing open now and nothing left to fall due."""
        return self.to_pay == 0


def view(store: Store, order_id: str, today: date) -> OrderView | None:
    """The order behind a link, or None when the journal does not hold it.

    Every figure comes from the one balance (`journal.balance.settle_arrays`) over the order's charges and movements,
    read on one connection in two statements compiled once, through the driver's cursor (a page view is a read)."""
    with store.engine.connect() as db:
        found = fetch_bound(db, _ORDER, order_id=order_id)
        if not found:
            return None
        key, _, first_name, last_name, email, language, product_name, currency, seen_on, last_stage, last_reminded_on = found[0]
        lines = fetch_bound(db, _LINES, key=key)
    part, kind, seq, day, amount, source = (np.array(column) for column in zip(*lines)) if lines else (np.array([]),) * 6
    charge, moved = part == _CHARGE, part == _MOVEMENT
    day = day.astype("datetime64[D]")
    amount = amount.astype("int64")
    kinds = np.array([KINDS.index(k) if k in KINDS else -1 for k in kind[charge].tolist()], dtype="int64")
    settled = settle_arrays(np.zeros(charge.sum(), dtype="int64"), kinds, seq[charge].astype("int64"), day[charge],
                            amount[charge], np.zeros(moved.sum(), dtype="int64"), amount[moved], day[moved], 1, today)
    items = sorted((Installment(seq, due, amount, paid, amount - paid) for fee, seq, due, amount, paid in
                    zip(settled.fee.tolist(), settled.seq.tolist(), settled.due.tolist(), settled.amount.tolist(), settled.applied.tolist())
                    if not fee), key=lambda i: (i.due_date, i.seq))
    since = amount[moved & (source != EXPORT) & (day >= np.datetime64(seen_on, "D")) & (day <= np.datetime64(today, "D"))].sum()
    return OrderView(
        order_id=order_id, first_name=first_name, last_name=last_name, email=email, language=language,
        product_name=product_name, currency=currency, installments=items, fee=int(settled.fees_open[0]),
        interest=int(settled.interest_open[0]), costs=int(settled.costs_open[0]), paid_since=max(int(since), 0),
        open_now=int(settled.due_open[0]), open_later=int(settled.later_open[0]), recorded_on=date.fromisoformat(seen_on),
        last_stage=last_stage or "", last_reminded_on=date.fromisoformat(last_reminded_on) if last_reminded_on else None,
        as_of=today, order_key=int(key),
    )


def _last_reminder(column: sa.Column) -> sa.ScalarSelect:
    """The stage or date of the order's last reminder that was sent (not a confirmation about something else)."""
    return (sa.select(column).where(reminders.c.order_id == orders.c.order_id, reminders.c.status == SENT,
                                    reminders.c.reminded_on.is_not(None), reminders.c.about == "")
            .order_by(reminders.c.reminded_on.desc(), reminders.c.id.desc()).limit(1).scalar_subquery())


_CHARGE, _MOVEMENT = 0, 1
_ORDER = (sa.select(orders.c.order_key, orders.c.order_id, orders.c.first_name, orders.c.last_name, orders.c.email,
                    orders.c.language, orders.c.product_name, orders.c.currency, sa.cast(orders.c.seen_on, sa.String),
                    _last_reminder(reminders.c.stage).label("last_stage"),
                    _last_reminder(sa.cast(reminders.c.reminded_on, sa.String)).label("last_reminded_on"))
          .where(orders.c.order_id == sa.bindparam("order_id")))
_LINES = sa.union_all(  # the order's charges and movements in one statement
    sa.select(sa.literal_column(str(_CHARGE), sa.Integer).label("part"), charges.c.kind, charges.c.seq,
              sa.cast(charges.c.due_on, sa.String).label("day"), charges.c.amount, sa.literal_column("''", sa.String).label("source"))
    .where(charges.c.order_key == sa.bindparam("key")),
    sa.select(sa.literal_column(str(_MOVEMENT), sa.Integer), sa.literal_column("''", sa.String), sa.literal_column("0", sa.BigInteger),
              sa.cast(movements.c.occurred_on, sa.String), movements.c.amount, movements.c.source)
    .where(movements.c.order_key == sa.bindparam("key")))
