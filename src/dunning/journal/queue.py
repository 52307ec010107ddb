"""The send queue: campaigns and their reminders, each moved prepared -> sending -> sent/failed by conditional updates.

A reminder that goes out (or is handed to a newsletter tool) charges its stage's fee in the same commit: a fee exists
only once the reminder that carries it was really sent.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dunning.journal.sql import insert_new, now, read_frame
from dunning.journal.tables import FAILED, PREPARED, SENDING, SENT, campaigns, charges, orders, reminders


class SendQueue:
    """Campaigns and reminders of a store (mixed into `Store`, which provides `engine`)."""

    engine: sa.Engine

    def campaign(self, name: str) -> sa.Row | None:
        with self.engine.connect() as db:
            return db.execute(sa.select(campaigns).where(campaigns.c.name == name)).first()

    def create_campaign(self, name: str, stage: str, channel: str, as_of: date, definition: str) -> int:
        with self.engine.begin() as db:
            return create_campaign(db, name, stage, channel, as_of, definition)

    def add_reminders(self, campaign_id: int, rows: list[dict], handed_over_on: date | None = None) -> int:
        """Record prepared reminders, or (with `handed_over_on`) reminders handed to a newsletter tool, which
        count as sent that day; an order already holding this stage is skipped. Returns how many were added."""
        with self.engine.begin() as db:
            return add_reminders(db, campaign_id, rows, handed_over_on)

    def reminded(self) -> pd.DataFrame:
        """Every order, stage and subject (`about`) the store holds a message for, with status and when it was sent."""
        with self.engine.connect() as db:
            return reminded(db)

    def history(self, order_id: str | None = None) -> pd.DataFrame:
        """order_id, stage, about, reminded_on: every message sent or handed over, from any channel (or one order's).
        `about` is "" for a dunning stage, `due:<date>` for a notice before a due date, `payment:<id>` for a thanks."""
        with self.engine.connect() as db:
            return history(db, order_id)

    def pending(self, campaign_id: int) -> list[sa.Row]:
        """Reminders still to send, in order: those in flight when a run stopped come first; each with its order's number
        in the ledger (`order_key`: its creditor reference carries it)."""
        first = sa.select(sa.func.min(_CARRIER.c.id)).where(_CARRIER.c.letter == reminders.c.letter).scalar_subquery()
        query = (sa.select(reminders, orders.c.order_key).select_from(reminders.outerjoin(orders, orders.c.order_id == reminders.c.order_id))
                 .where(reminders.c.campaign_id == campaign_id, reminders.c.status.in_((SENDING, PREPARED)),
                        sa.or_(reminders.c.letter == "", reminders.c.id == first))  # a letter's first carries its message
                 .order_by(sa.case((reminders.c.status == SENDING, 0), else_=1), reminders.c.id))
        with self.engine.connect() as db:
            return list(db.execute(query).all())

    def riding(self, reminder: sa.Row) -> list[sa.Row]:
        """The other reminders of a reminder's letter, with their orders' numbers (none for a reminder alone)."""
        if not reminder.letter:
            return []
        query = (sa.select(reminders, orders.c.order_key).select_from(reminders.outerjoin(orders, orders.c.order_id == reminders.c.order_id))
                 .where(reminders.c.letter == reminder.letter, reminders.c.id != reminder.id).order_by(reminders.c.id))
        with self.engine.connect() as db:
            return list(db.execute(query).all())

    def last_message(self, order_id: str) -> sa.Row | None:
        """The last message sent or handed over about an order (a reminder, a notice, a confirmation, a cancellation),
        with its order's number: its own, or that of the letter it rode along in (the letter's first carries the text).
        None when it had none with a text of its own (a newsletter tool wrote it)."""
        mine = (sa.select(reminders.c.letter, reminders.c.id).where(reminders.c.order_id == order_id, reminders.c.status == SENT)
                .order_by(reminders.c.reminded_on.desc(), reminders.c.id.desc()).limit(1))
        with self.engine.connect() as db:
            last = db.execute(mine).first()
            if last is None:
                return None
            carrier = (reminders.c.id == last.id) if not last.letter else (reminders.c.letter == last.letter)
            query = (sa.select(reminders, orders.c.order_key)
                     .select_from(reminders.outerjoin(orders, orders.c.order_id == reminders.c.order_id))
                     .where(carrier, reminders.c.body_text != "").order_by(reminders.c.id).limit(1))
            return db.execute(query).first()

    def reminders_of(self, campaign_id: int, limit: int | None = None) -> list[sa.Row]:
        query = sa.select(reminders).where(reminders.c.campaign_id == campaign_id).order_by(reminders.c.id).limit(limit)
        with self.engine.connect() as db:
            return list(db.execute(query).all())

    def claim(self, reminder: sa.Row, sender: str) -> bool:
        """Move a prepared reminder (or one left in flight by a sender that died) to sending for `sender`.

        A conditional update: of two senders at once, exactly one wins each reminder; the loser skips it."""
        return self.step(None, reminder, sender)

    def step(self, outcome: tuple[int, dict] | None, reminder: sa.Row | None, sender: str) -> bool:
        """One commit for a sender's step: how its last reminder went (`outcome`: its id and `sent()` or
        `failed()`, a sent one charging its fee), and the claim of its next one, `reminder` (a conditional update,
        as `claim`). Returns whether the claim was won. The statements are built once: a send run takes thousands."""
        with self.engine.begin() as db:
            if outcome is not None:
                reminder_id, values = outcome
                db.execute(_SETTLE[values["status"]], {"reminder_id": reminder_id, **{f"new_{k}": v for k, v in values.items()}})
                if values["status"] == SENT:
                    charge_fees(db, letter_of(db, reminder_id))
            if reminder is None:
                return False
            claim = _CLAIM_FREE if reminder.claimed_by is None else _CLAIM_HELD
            return db.execute(claim, {"reminder_id": reminder.id, "was": reminder.status, "held_by": reminder.claimed_by,
                                      "at": now(), "sender": sender}).rowcount == 1

    def mark_sent(self, reminder_id: int, message_id: str, reminded_on: date) -> None:
        """A reminder went out, and with it the others of its letter: each sent, each charging its fee, interest and costs."""
        values = sent(message_id, reminded_on)
        with self.engine.begin() as db:
            db.execute(_SETTLE[SENT], {"reminder_id": reminder_id, **{f"new_{k}": v for k, v in values.items()}})
            charge_fees(db, letter_of(db, reminder_id))

    def mark_failed(self, reminder_id: int, error: str) -> None:
        """A reminder could not be delivered, nor the others of its letter."""
        with self.engine.begin() as db:
            db.execute(_SETTLE[FAILED], {"reminder_id": reminder_id, "new_status": FAILED, "new_error": error})

    def mark_handed(self, reminder_ids: list[int], external_id: str) -> None:
        """Note the external batch (a Mailchimp campaign) the reminders in flight are about to go out in."""
        with self.engine.begin() as db:
            db.execute(reminders.update().where(reminders.c.id.in_(reminder_ids), reminders.c.status == SENDING)
                       .values(message_id=external_id))

    def release(self, reminder_id: int, why: str) -> None:
        """Put a reminder in flight back in the queue for the next run."""
        self._update(reminder_id, status=PREPARED, claimed_by=None, error=why)

    def counts(self, campaign_id: int) -> dict[str, int]:
        query = (sa.select(reminders.c.status, sa.func.count()).where(reminders.c.campaign_id == campaign_id)
                 .group_by(reminders.c.status))
        with self.engine.connect() as db:
            return {status: n for status, n in db.execute(query).all()}

    def _update(self, reminder_id: int, **values) -> None:
        """Change one reminder's state in a commit of its own."""
        with self.engine.begin() as db:
            db.execute(reminders.update().where(reminders.c.id == reminder_id).values(**values))


def create_campaign(db: sa.Connection, name: str, stage: str, channel: str, as_of: date, definition: str) -> int:
    """A campaign by name, created where it does not exist yet; its id."""
    insert_new(db, campaigns, [{"name": name, "stage": stage, "channel": channel, "as_of": as_of, "definition": definition}],
               ["name"], stamp_column="prepared_at")
    return db.execute(sa.select(campaigns.c.id).where(campaigns.c.name == name)).scalar_one()


def add_reminders(db: sa.Connection, campaign_id: int, rows: list[dict], handed_over_on: date | None = None) -> int:
    """`SendQueue.add_reminders` inside a transaction of the caller's; reminders handed over charge their fees, interest
    and costs."""
    added = insert_reminders(db, campaign_id, rows, handed_over_on)
    if handed_over_on and added:
        charge_campaign(db, campaign_id)
    return added


def insert_reminders(db: sa.Connection, campaign_id: int, rows: list[dict], handed_over_on: date | None = None) -> int:
    """The reminders of `add_reminders` without charging anything (a caller adding a campaign's reminders a slice at a
    time charges the campaign once, at the end: `charge_campaign`); how many were new."""
    done = {"status": SENT, "reminded_on": handed_over_on, "sent_at": now()} if handed_over_on else {"status": PREPARED}
    zero = dict.fromkeys(("fees_open", "interest", "costs", "interest_open", "costs_open"), 0)
    rows = [{"about": "", "letter": "", **zero, **row, "campaign_id": campaign_id, **done} for row in rows]
    return insert_new(db, reminders, rows, ["order_id", "stage", "about"], stamp_column="prepared_at")


def charge_campaign(db: sa.Connection, campaign_id: int) -> None:
    """The fees, interest and costs of a campaign's reminders that were sent, as charges (`charge_fees`)."""
    asks = sa.or_(reminders.c.fee > 0, reminders.c.interest > 0, reminders.c.costs > 0)
    ids = db.execute(sa.select(reminders.c.id).where(reminders.c.campaign_id == campaign_id, reminders.c.status == SENT,
                                                     asks)).scalars().all()
    charge_fees(db, list(ids))


def charge_fees(db: sa.Connection, reminder_ids: list[int]) -> None:
    """The fee, default interest and costs of each of these reminders that was sent, as charges on its order (once per
    reminder and kind)."""
    if not reminder_ids:
        return
    insert = (postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert)(charges)
    for kind, column in (("fee", reminders.c.fee), ("interest", reminders.c.interest), ("costs", reminders.c.costs)):
        chosen = (sa.select(orders.c.order_key, sa.literal(kind), reminders.c.id, reminders.c.reminded_on, column, sa.null())
                  .join(orders, orders.c.order_id == reminders.c.order_id)
                  .where(reminders.c.id.in_(sa.bindparam("ids", expanding=True)), reminders.c.status == SENT,
                         column > 0, reminders.c.reminded_on.is_not(None)))
        statement = insert.from_select(["order_key", "kind", "seq", "due_on", "amount", "shop_open"], chosen).on_conflict_do_nothing()
        for start in range(0, len(reminder_ids), 900):
            db.execute(statement, {"ids": reminder_ids[start:start + 900]})


def letter_of(db: sa.Connection, reminder_id: int) -> list[int]:
    """The reminder and the others of its letter."""
    return list(db.execute(sa.select(reminders.c.id).where(_IN_LETTER), {"reminder_id": reminder_id}).scalars())


def claims(db: sa.Connection) -> pd.DataFrame:
    """Per order (index): the default interest and the costs its reminders ask or asked, every reminder but those that
    failed (whose charges never came into being)."""
    query = (sa.select(reminders.c.order_id, sa.func.sum(reminders.c.interest), sa.func.sum(reminders.c.costs))
             .where(reminders.c.status != FAILED, sa.or_(reminders.c.interest > 0, reminders.c.costs > 0))
             .group_by(reminders.c.order_id))
    frame = pd.DataFrame(db.execute(query).all(), columns=["order_id", "interest", "costs"])
    return frame.astype({"interest": "int64", "costs": "int64"}).set_index("order_id")


def reminded(db: sa.Connection) -> pd.DataFrame:
    """`SendQueue.reminded` on a connection of the caller's."""
    return read_frame(db, reminders, ["order_id", "stage", "about", "status", "sent_at"])


def history(db: sa.Connection, order_id: str | None = None) -> pd.DataFrame:
    """`SendQueue.history` on a connection of the caller's."""
    sent_ = reminders.c.status == SENT
    frame = read_frame(db, reminders, ["order_id", "stage", "about", "reminded_on"],
                       sent_ if order_id is None else sa.and_(sent_, reminders.c.order_id == order_id))
    return frame.dropna(subset=["reminded_on"]).reset_index(drop=True)


def sent(message_id: str, reminded_on: date) -> dict:
    """A reminder's new values once it went out."""
    return {"status": SENT, "sent_at": now(), "message_id": message_id, "error": None, "reminded_on": reminded_on}


def failed(error: str) -> dict:
    """A reminder's new values once its delivery failed."""
    return {"status": FAILED, "error": error}


_CARRIER = reminders.alias("carrier")
# a reminder and the others of its letter (those that ride along with the message it carries)
_IN_LETTER = sa.or_(reminders.c.id == sa.bindparam("reminder_id"),
                    sa.and_(reminders.c.letter != "", reminders.c.letter == sa.select(_CARRIER.c.letter)
                            .where(_CARRIER.c.id == sa.bindparam("reminder_id")).scalar_subquery()))
_SETTLE = {status: reminders.update().where(_IN_LETTER)
           .values({column: sa.bindparam(f"new_{column}") for column in columns})
           for status, columns in ((SENT, ("status", "sent_at", "message_id", "error", "reminded_on")), (FAILED, ("status", "error")))}
_CLAIM = (reminders.update().where(reminders.c.id == sa.bindparam("reminder_id"), reminders.c.status == sa.bindparam("was"))
          .values(status=SENDING, sending_at=sa.bindparam("at"), attempts=reminders.c.attempts + 1, claimed_by=sa.bindparam("sender")))
_CLAIM_FREE = _CLAIM.where(reminders.c.claimed_by.is_(None))
_CLAIM_HELD = _CLAIM.where(reminders.c.claimed_by == sa.bindparam("held_by"))
