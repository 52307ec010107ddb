"""The one balance: what an order owes is its charges less its movements, settled in a stated order.

Every command and page reads it from here (`settle`, set-based over integer order codes, and `of_orders`, which loads
the journal's charges and movements for it). Money in (payments, less chargebacks, refunds and returns) is applied,
per order, in this order:

1. installments already due, oldest first;
2. fees, default interest and collection costs already charged (by reminders that were sent), oldest first;
3. installments not yet due, oldest first;

and whatever is left is the customer's credit (an overpayment). A movement counts from the day it happened.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dunning.journal.sql import BATCH, fetch
from dunning.journal.tables import charges, movements, orders

INSTALLMENT, FEE, INTEREST, COSTS = "installment", "fee", "interest", "costs"
KINDS = (INSTALLMENT, FEE, INTEREST, COSTS)  # a charge's kind code is its place here


@dataclass
class Settled:
    """Charges with what was applied to each (by code, then in settling order), and per order code the sums every
    reader needs (int64 arrays)."""

    code: np.ndarray
    kind: np.ndarray  # the place of each charge's kind in KINDS
    seq: np.ndarray
    due: np.ndarray  # datetime64[D]
    amount: np.ndarray
    applied: np.ndarray
    paid: np.ndarray  # net money in up to the date (negative after a chargeback of an unpaid order)
    due_open: np.ndarray  # installments due by the date, still open
    fees_open: np.ndarray  # reminder fees charged by the date, still open
    interest_open: np.ndarray  # default interest charged by the date, still open
    costs_open: np.ndarray  # lump sums and collection costs charged by the date, still open
    later_open: np.ndarray  # installments not yet due, still open
    principal_paid: np.ndarray  # applied to installments
    credit: np.ndarray  # paid beyond every charge
    moves: tuple[np.ndarray, np.ndarray, np.ndarray]  # the money in and out the balance counted: code, amount, day

    @property
    def fee(self) -> np.ndarray:
        """True where a charge is no installment (a fee, interest, costs)."""
        return self.kind != 0

    @property
    def charges(self) -> pd.DataFrame:
        """code, kind, seq, due_date, amount_due, amount_paid, amount_open."""
        return pd.DataFrame({"code": self.code, "kind": np.array(KINDS)[self.kind], "seq": self.seq,
                             "due_date": self.due, "amount_due": self.amount, "amount_paid": self.applied,
                             "amount_open": self.amount - self.applied})

    def installments(self, place: np.ndarray) -> pd.DataFrame:
        """The installments of the orders `place` (per code) gives a position, -1 leaving an order out: code (that
        position), seq, due_date, amount_due, amount_paid, amount_open, by position, due date and number."""
        position = place[self.code]
        keep = ~self.fee & (position >= 0)
        position, seq, due = position[keep], self.seq[keep], self.due[keep]
        order = np.lexsort((seq, due, position))
        amount, applied = self.amount[keep][order], self.applied[keep][order]
        return pd.DataFrame({"code": position[order], "seq": seq[order], "due_date": due[order], "amount_due": amount,
                             "amount_paid": applied, "amount_open": amount - applied})

    @property
    def owed_now(self) -> np.ndarray:
        """What is due by the date and open, fees, interest and costs included."""
        return self.due_open + self.fees_open + self.interest_open + self.costs_open


def settle(charged: pd.DataFrame, moved: pd.DataFrame, n_orders: int, as_of: date) -> Settled:
    """The balance of `n_orders` orders as of a date.

    `charged`: code, kind (installment | fee), seq, due_date, amount; `moved`: code, amount (signed), occurred_on.
    Codes are 0 .. n_orders - 1; rows with a code outside are left out."""
    kind = pd.Categorical(charged["kind"], categories=KINDS).codes.astype("int64")
    return settle_arrays(charged["code"].to_numpy(dtype="int64"), kind,
                         charged["seq"].to_numpy(dtype="int64"), charged["due_date"].to_numpy(dtype="datetime64[D]"),
                         charged["amount"].to_numpy(dtype="int64"), moved["code"].to_numpy(dtype="int64"),
                         moved["amount"].to_numpy(dtype="int64"), moved["occurred_on"].to_numpy(dtype="datetime64[D]"),
                         n_orders, as_of)


def settle_arrays(code: np.ndarray, kind: np.ndarray, seq: np.ndarray, due: np.ndarray, amount: np.ndarray, move_code: np.ndarray,
                  move_amount: np.ndarray, move_on: np.ndarray, n_orders: int, as_of: date) -> Settled:
    """`settle` on plain arrays (the customer's page settles one order with it, without building frames)."""
    today = np.datetime64(as_of, "D")
    keep = (code >= 0) & (code < n_orders) & (kind >= 0)  # a kind the balance does not know is no charge
    if not keep.all():
        code, kind, seq, due, amount = code[keep], kind[keep], seq[keep], due[keep], amount[keep]
    fee = kind != 0
    rank = fee + 2 * (due > today)  # 0 installments due, 1 fees due, 2 installments later, 3 fees later
    order = np.lexsort((seq, kind, due, rank, code))
    code, kind, seq, due, amount, rank, fee = code[order], kind[order], seq[order], due[order], amount[order], rank[order], fee[order]
    counted = (move_code >= 0) & (move_code < n_orders) & (move_on <= today)
    paid = np.zeros(n_orders, dtype="int64")
    np.add.at(paid, move_code[counted], move_amount[counted])
    pool = np.maximum(paid, 0)
    applied = np.minimum(np.maximum(pool[code] - (running_total(amount, code) - amount), 0), amount)
    still = amount - applied
    total = np.zeros(n_orders, dtype="int64")
    np.add.at(total, code, amount)
    principal_paid = np.zeros(n_orders, dtype="int64")
    np.add.at(principal_paid, code[~fee], applied[~fee])
    open_by = np.zeros((n_orders, len(_OPEN)), dtype="int64")  # what is still open, per order and _OPEN
    np.add.at(open_by.ravel(), code * len(_OPEN) + _OPEN_PLACE[rank, kind], still)
    return Settled(code=code, kind=kind, seq=seq, due=due, amount=amount, applied=applied, paid=paid,
                   due_open=open_by[:, 0], fees_open=open_by[:, 1], interest_open=open_by[:, 2], costs_open=open_by[:, 3],
                   later_open=open_by[:, 4], principal_paid=principal_paid, credit=np.maximum(pool - total, 0),
                   moves=(move_code[counted], move_amount[counted], move_on[counted]))


_OPEN = ("due_open", "fees_open", "interest_open", "costs_open", "later_open", "fees_later")
_OPEN_PLACE = np.array([[0, 0, 0, 0], [1, 1, 2, 3], [4, 4, 4, 4], [5, 5, 5, 5]])  # by rank, then kind: the sum a charge's open part adds to


def running_total(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Running total within each run of equal codes (rows of a group are contiguous)."""
    if len(values) == 0:
        return values
    total = np.add.accumulate(values)
    first = np.empty(len(codes), dtype=bool)
    first[0] = True
    np.not_equal(codes[1:], codes[:-1], out=first[1:])
    start = np.maximum.accumulate(np.where(first, np.arange(len(codes)), 0))  # where each row's run begins
    return total - (total - values)[start]


@dataclass
class Book:
    """The journal's charges and movements of some orders, by order code (their place in `orders`)."""

    orders: pd.DataFrame  # order_key, order_id, currency, ... : code = row position
    charges: pd.DataFrame  # code, kind, seq, due_date, amount
    movements: pd.DataFrame  # code, id, amount, occurred_on, kind, source, recorded_at

    def settle(self, as_of: date) -> Settled:
        return settle(self.charges, self.movements, len(self.orders), as_of)


ORDER_COLUMNS = ["order_key", "order_id", "email", "first_name", "last_name", "language", "product_name", "currency",
                 "status", "seen_on"]


def book(db: sa.Connection, order_ids: list[str] | None = None) -> Book:
    """The charges and movements of the orders the journal holds (or of those named), read on one connection."""
    held = _orders(db, order_ids)
    keys = held["order_key"].to_numpy(dtype="int64")
    position = pd.Series(np.arange(len(keys)), index=keys)
    charge_rows = _by_keys(db, sa.select(charges.c.order_key, charges.c.kind, charges.c.seq, sa.cast(charges.c.due_on, sa.String),
                                         charges.c.amount), charges.c.order_key, keys if order_ids is not None else None)
    charged = pd.DataFrame.from_records(charge_rows, columns=["order_key", "kind", "seq", "due_date", "amount"])
    charged["due_date"] = pd.to_datetime(charged["due_date"], format="%Y-%m-%d", errors="coerce")
    charged.insert(0, "code", position.reindex(charged["order_key"].to_numpy()).to_numpy())
    move_rows = _by_keys(db, sa.select(movements.c.order_key, movements.c.id, movements.c.amount,
                                       sa.cast(movements.c.occurred_on, sa.String), movements.c.kind, movements.c.source,
                                       movements.c.origin, movements.c.recorded_at),
                         movements.c.order_key, keys if order_ids is not None else None)
    moved = pd.DataFrame.from_records(move_rows, columns=["order_key", "id", "amount", "occurred_on", "kind", "source", "origin",
                                                          "recorded_at"])
    moved["occurred_on"] = pd.to_datetime(moved["occurred_on"], format="%Y-%m-%d", errors="coerce")
    moved["recorded_at"] = pd.to_datetime(moved["recorded_at"], utc=True, format="ISO8601", errors="coerce")
    moved.insert(0, "code", position.reindex(moved["order_key"].to_numpy()).to_numpy())
    return Book(held, charged.astype({"code": "int64", "seq": "int64", "amount": "int64"}),
                moved.astype({"code": "int64", "id": "int64", "amount": "int64"}))


def of_orders(db: sa.Connection, as_of: date, order_ids: list[str] | None = None) -> pd.DataFrame:
    """Per order the journal holds (or each of those named): its details (ORDER_COLUMNS), and due_open, fees_open,
    interest_open, costs_open, later_open, owed_now (what is due, with fees, interest and costs), paid, credit,
    principal_paid, in minor units."""
    held = book(db, order_ids)
    settled = held.settle(as_of)
    out = held.orders.copy()
    for name in ("due_open", "fees_open", "interest_open", "costs_open", "later_open", "owed_now", "paid", "credit", "principal_paid"):
        out[name] = getattr(settled, name)
    return out


def _orders(db: sa.Connection, order_ids: list[str] | None) -> pd.DataFrame:
    columns = [orders.c[c] if c != "seen_on" else sa.cast(orders.c.seen_on, sa.String) for c in ORDER_COLUMNS]
    query = sa.select(*columns).order_by(orders.c.order_key)
    if order_ids is None:
        rows = fetch(db, query)
    else:
        rows = [r for chunk in range(0, len(order_ids), BATCH)
                for r in fetch(db, query.where(orders.c.order_id.in_(order_ids[chunk:chunk + BATCH])))]
    frame = pd.DataFrame.from_records(rows, columns=ORDER_COLUMNS)
    frame["seen_on"] = pd.to_datetime(frame["seen_on"], format="%Y-%m-%d", errors="coerce")
    return frame.astype({"order_key": "int64"}).sort_values("order_key", kind="stable").reset_index(drop=True)


def _by_keys(db: sa.Connection, query: sa.Select, column: sa.Column, keys: np.ndarray | None) -> list[tuple]:
    if keys is None:
        return fetch(db, query)
    if len(keys) == 0:
        return []
    return [row for start in range(0, len(keys), BATCH)
            for row in fetch(db, query.where(column.in_([int(k) for k in keys[start:start + BATCH]])))]
