"""One order's whole story, in time order: what it was charged, every sighting of money and what became of it, the
movements, the reminders, the page's visits, the customer's requests and the merchant's decisions; and its balance."""
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
    events: pd.DataFrame
    owed: dict[str, int]


def of_order(store: Store, order_id: str, as_of: date) -> History | None:
    """Everything the journal holds of one order, read on one connection; None when it holds no such order."""
    with store.engine.connect() as db:
        row = db.execute(sa.select(orders).where(orders.c.order_id == order_id)).first()
        if row is None:
            return None
        key = row.order_key
        events = [*_charges(db, key), *_observations(db, key, order_id), *_movements(db, key), *_reminders(db, order_id),
                  *_visits(db, order_id), *_requests(db, order_id), *_decisions(db, order_id)]
        owed = balance.of_orders(db, as_of, [order_id]).iloc[0]
    frame = pd.DataFrame(events, columns=EVENT_COLUMNS)
    frame["rank"] = frame["event"].map(_ORDER)
    frame = frame.sort_values(["when", "rank"], kind="stable").drop(columns="rank").reset_index(drop=True)
    figures = {name: int(owed[name]) for name in ("due_open", "fees_open", "later_open", "owed_now", "paid", "credit")}
    return History(order_id, row.currency, frame, figures)


def _charges(db, key: int) -> list[tuple]:
    rows = db.execute(sa.select(charges).where(charges.c.order_key == key).order_by(charges.c.due_on, charges.c.seq)).all()
    return [(c.due_on, "charge", f"{c.kind} {c.seq}" if c.kind == "installment" else f"fee of reminder {c.seq}", c.amount, "",
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
