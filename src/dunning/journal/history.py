"""One order's whole story, in time order: what it was charged, every sighting of money and what became of it, the
movements, the reminders, the page's visits, the customer's requests and the merchant's decisions; and its balance.
A customer's account: the stories of every order under one e-mail address."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa

from dunning.journal import balance, decisions
from dunning.journal.sql import fetch
from dunning.journal.store import Store
from dunning.journal.tables import (
    SENT, campaigns, charges, coverage, method_requests, movements, observations, orders, reminders, visits,
)

EVENT_COLUMNS = ["when", "event", "what", "amount", "currency", "source", "status", "ref", "note"]
# Within one day: charges first, then what was seen of money, the movements, the messages, the rest.
_ORDER = {"charge": 0, "observation": 1, "movement": 2, "reminder": 3, "visit": 4, "request": 5, "decision": 6}


@dataclass
class History:
    """An order's events (EVENT_COLUMNS, oldest first) and its balance as of a date."""

    order_id: str
    currency: str
    email: str
    events: pd.DataFrame
    owed: dict[str, int]


@dataclass
class Account:
    """A customer's orders (those under one e-mail address, whatever its case), each with its history, and what they
    owe now per currency."""

    email: str
    orders: list[History]

    @property
    def events(self) -> pd.DataFrame:
        """Every order's events in one time line, each with its order (EVENT_COLUMNS and order_id)."""
        frames = [h.events.assign(order_id=h.order_id) for h in self.orders]
        return pd.concat(frames, ignore_index=True).sort_values("when", kind="stable").reset_index(drop=True)

    @property
    def owed_now(self) -> dict[str, int]:
        """What the customer owes now, per currency (never summed across currencies)."""
        totals: dict[str, int] = {}
        for h in self.orders:
            totals[h.currency] = totals.get(h.currency, 0) + h.owed["owed_now"]
        return totals


def of_order(store: Store, order_id: str, as_of: date) -> History | None:
    """Everything the journal holds of one order, read on one connection; None when it holds no such order."""
    with store.engine.connect() as db:
        row = db.execute(sa.select(orders).where(orders.c.order_id == order_id)).first()
        return None if row is None else _history(db, row, as_of)


def of_customer(store: Store, email: str, as_of: date) -> Account | None:
    """Every order under one e-mail address (compared without case), each with its whole story, read on one connection;
    None when the journal holds no order of that address. An address is what the orders share, not proof of one person:
    this is for the merchant, never for a customer's page."""
    with store.engine.connect() as db:
        rows = db.execute(sa.select(orders).where(sa.func.lower(orders.c.email) == email.strip().lower())
                          .order_by(orders.c.order_id)).all()
        return Account(email.strip(), [_history(db, row, as_of) for row in rows]) if rows else None


def _history(db: sa.Connection, row, as_of: date) -> History:
    key, order_id = row.order_key, row.order_id
    events = [*_charges(db, key), *_observations(db, key, order_id), *_movements(db, key), *_reminders(db, order_id),
              *_visits(db, order_id), *_requests(db, order_id), *_decisions(db, order_id)]
    owed = balance.of_orders(db, as_of, [order_id]).iloc[0]
    frame = pd.DataFrame(events, columns=EVENT_COLUMNS)
    frame["rank"] = frame["event"].map(_ORDER)
    frame = frame.sort_values(["when", "rank"], kind="stable").drop(columns="rank").reset_index(drop=True)
    figures = {name: int(owed[name]) for name in ("due_open", "fees_open", "interest_open", "costs_open", "later_open", "owed_now",
                                                  "paid", "credit")}
    return History(order_id, row.currency, row.email, frame, figures)


_CHARGE_WORDS = {"fee": "fee", "interest": "default interest", "costs": "costs"}


def _charges(db, key: int) -> list[tuple]:
    rows = db.execute(sa.select(charges).where(charges.c.order_key == key).order_by(charges.c.due_on, charges.c.seq)).all()
    return [(c.due_on, "charge", f"{c.kind} {c.seq}" if c.kind == "installment" else f"{_CHARGE_WORDS[c.kind]} of reminder {c.seq}", c.amount, "",
             "", "", "", "" if c.shop_open is None else f"the shop's latest export says {c.shop_open} open") for c in rows]


def _observations(db, key: int, order_id: str) -> list[tuple]:
    rows = db.execute(sa.select(observations).where(sa.or_(observations.c.order_key == key, observations.c.order_id == order_id))
                      .order_by(observations.c.id)).all()
    covered = {}
    ids = [r.id for r in rows]
    if ids:
        for obs, move in fetch(db, sa.select(coverage.c.observation_id, coverage.c.movement_id).where(coverage.c.observation_id.in_(ids))):
            covered.setdefault(obs, []).append(move)
    out = []
    for r in rows:
        note = r.note
        if r.id in covered:
            note = (note + "; " if note else "") + "shows movement " + ", ".join(map(str, covered[r.id]))
        if r.movement_id:
            note = (note + "; " if note else "") + f"movement {r.movement_id}"
        out.append((r.occurred_on, "observation", r.kind, r.amount, r.currency, r.origin, r.status, f"{r.source}:{r.source_key}", note))
    return out


def _movements(db, key: int) -> list[tuple]:
    rows = db.execute(sa.select(movements).where(movements.c.order_key == key).order_by(movements.c.id)).all()
    return [(m.occurred_on, "movement", m.kind, m.amount, m.currency, m.origin, "", str(m.id),
             "; ".join(filter(None, [m.note, f"reverses movement {m.reverses}" if m.reverses else ""]))) for m in rows]


def _reminders(db, order_id: str) -> list[tuple]:
    rows = db.execute(sa.select(reminders.c.id, reminders.c.stage, reminders.c.about, reminders.c.status, reminders.c.reminded_on,
                                reminders.c.prepared_at, reminders.c.open_amount, reminders.c.fee, reminders.c.currency,
                                campaigns.c.name).join(campaigns, campaigns.c.id == reminders.c.campaign_id)
                      .where(reminders.c.order_id == order_id).order_by(reminders.c.id)).all()
    return [(r.reminded_on if r.status == SENT and r.reminded_on else r.prepared_at.date(), "reminder",
             r.stage + (f" ({r.about})" if r.about else ""), r.open_amount, r.currency, r.name, r.status, str(r.id),
             f"fee {r.fee}" if r.fee else "") for r in rows]


def _visits(db, order_id: str) -> list[tuple]:
    rows = db.execute(sa.select(visits.c.visited_at).where(visits.c.order_id == order_id).order_by(visits.c.visited_at)).all()
    return [(v.visited_at.date(), "visit", "manage page opened", None, "", "", "", "", "") for v in rows]


def _requests(db, order_id: str) -> list[tuple]:
    rows = db.execute(sa.select(method_requests).where(method_requests.c.order_id == order_id)).all()
    return [(r.requested_at.date(), "request", r.wanted, None, "", "manage page", "done" if r.done_at else "open", str(r.id),
             r.message) for r in rows]


def _decisions(db, order_id: str) -> list[tuple]:
    made = decisions.decided(db, order_id)
    return [(d.decided_on.date(), "decision", d.decision, int(d.amount_open), d.currency, "merchant", "", "", d.note)
            for d in made.itertuples()]
