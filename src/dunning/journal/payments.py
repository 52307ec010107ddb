"""The merchant's hand on the journal: a payment waiting for review or for its order is assigned, a movement is moved
(whole or in part) to another order. Nothing is rewritten: each is new entries with the merchant's reason, and the
whole story stays in the journal (`dunning order ID`)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from dunning.errors import InputError
from dunning.journal import matcher
from dunning.journal.sql import insert_new, next_id, read_frame
from dunning.journal.tables import ledger_version, movements, observations, orders

MERCHANT = "merchant"
MOVED = "moved"
LISTED = ["id", "source", "source_key", "origin", "order_id", "kind", "amount", "currency", "occurred_on", "status", "note"]


def waiting(db: sa.Connection) -> pd.DataFrame:
    """The observations that wait for the merchant: in review (which movement is it?) or for an order nobody knows."""
    return read_frame(db, observations, LISTED, observations.c.status.in_((matcher.REVIEW, matcher.UNMATCHED))
                      ).sort_values(["occurred_on", "id"], kind="stable").reset_index(drop=True)


def assign(db: sa.Connection, observation_id: int, order_id: str, reason: str) -> int:
    """An observation in review or waiting for its order becomes a movement of `order_id` (the merchant says it is
    money of its own); returns the movement's id. The caller's transaction must hold the ledger's write lock."""
    seen = db.execute(sa.select(observations).where(observations.c.id == observation_id)).first()
    if seen is None:
        raise InputError(f"there is no observation {observation_id} (dunning payments list shows those that wait)")
    if seen.status not in (matcher.REVIEW, matcher.UNMATCHED) or seen.kind not in matcher.DIRECT:
        raise InputError(f"observation {observation_id} is {seen.status}, not waiting for a decision")
    order = _order(db, order_id, seen.currency)
    movement_id = next_id(db, movements.c.id)
    insert_new(db, movements, [{"id": movement_id, "order_key": order.order_key, "kind": seen.kind, "amount": seen.amount,
                                "currency": seen.currency, "occurred_on": seen.occurred_on, "source": seen.source,
                                "origin": seen.origin, "covers_from": None, "reverses": None, "note": reason}], None)
    db.execute(observations.update().where(observations.c.id == observation_id).values(
        order_id=order_id, order_key=order.order_key, status=matcher.COUNTED, movement_id=movement_id,
        note=(seen.note + "; " if seen.note else "") + f"assigned by the merchant: {reason}"))
    _note(db, f"assign:{observation_id}", order, seen.amount, seen.currency, seen.occurred_on, movement_id, reason)
    return movement_id


def move(db: sa.Connection, movement_id: int, order_id: str, reason: str, amount: int | None = None) -> tuple[int, int]:
    """Move a movement (or `amount` of it: a split) to another order: it is taken off its order and put on the other,
    both dated as the movement; returns the two new movements' ids. The caller's transaction holds the write lock."""
    moving = db.execute(sa.select(movements).where(movements.c.id == movement_id)).first()
    if moving is None or moving.kind == MOVED:
        raise InputError(f"there is no movement {movement_id} to move (dunning order ID lists an order's movements)")
    target = _order(db, order_id, moving.currency)
    if target.order_key == moving.order_key:
        raise InputError(f"movement {movement_id} is on order {order_id} already")
    whole = abs(moving.amount)
    part = whole if amount is None else amount
    if not 0 < part <= whole:
        raise InputError(f"the amount to move must be above 0 and at most the movement's {whole} (minor units)")
    sign = 1 if moving.amount > 0 else -1
    first = next_id(db, movements.c.id)
    base = {"currency": moving.currency, "occurred_on": moving.occurred_on, "source": MERCHANT, "origin": MERCHANT,
            "covers_from": None, "reverses": movement_id, "note": reason}
    insert_new(db, movements, [base | {"id": first, "order_key": moving.order_key, "kind": MOVED, "amount": -sign * part},
                               base | {"id": first + 1, "order_key": target.order_key, "kind": moving.kind, "amount": sign * part}],
               None)
    done = db.execute(sa.select(sa.func.count()).where(observations.c.source == MERCHANT,
                                                       observations.c.source_key.like(f"move:{movement_id}:%"))).scalar_one()
    _note(db, f"move:{movement_id}:{done + 1}", target, sign * part, moving.currency, moving.occurred_on, first + 1, reason)
    return first, first + 1


def currency_of(movement_id: int) -> sa.Select:
    """The query for a movement's currency."""
    return sa.select(movements.c.currency).where(movements.c.id == movement_id)


def _order(db: sa.Connection, order_id: str, currency: str) -> sa.Row:
    order = db.execute(sa.select(orders.c.order_key, orders.c.order_id, orders.c.currency).where(orders.c.order_id == order_id)).first()
    if order is None:
        raise InputError(f"the ledger holds no order {order_id!r} (read the export that holds it first)")
    if order.currency != currency:
        raise InputError(f"order {order_id} is in {order.currency}, the payment in {currency}")
    return order


def _note(db: sa.Connection, key: str, order: sa.Row, amount: int, currency: str, on: date, movement_id: int, reason: str) -> None:
    """The merchant's entry in the journal, with the reason."""
    insert_new(db, observations, [{
        "id": next_id(db, observations.c.id), "source": MERCHANT, "source_key": key, "origin": MERCHANT, "order_id": order.order_id,
        "order_key": order.order_key, "kind": key.split(":")[0], "amount": amount, "currency": currency, "occurred_on": on,
        "reference": "", "status": matcher.NOTED, "movement_id": movement_id, "note": reason}], None)
    db.execute(ledger_version.update().where(ledger_version.c.id == 1).values(version=ledger_version.c.version + 1))
