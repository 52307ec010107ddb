"""A copy by post of the last message an order received (the customer says the e-mail never came): its text as it was
sent, printed to the postal address it was prepared with, dated the day it is printed, and asking for each order it
speaks of what is open that day. A copy records nothing: the message it copies was counted when it went out."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from dunning import bank, manage
from dunning.channels import Outgoing, Payable, printed
from dunning.errors import InputError
from dunning.journal.store import Store
from dunning.reminders import asks_payment


@dataclass(frozen=True)
class Copy:
    """A printed copy: the order it was asked for, the message it copies, and the PDF."""

    order_id: str
    reminder_id: int
    stage: str
    sent_on: date
    pdf: bytes


def copy(store: Store, order_id: str, as_of: date, letterhead: printed.Letterhead, accounts: dict[str, bank.Account]) -> Copy:
    """The order's last message as a PDF letter dated `as_of`; InputError where there is none to print, or no address."""
    reminder = store.last_message(order_id)
    if reminder is None:
        raise InputError(f"order {order_id}: no message with a text of its own went out about it (a newsletter tool writes "
                         "its messages itself), so there is none to print")
    if not reminder.postal_address:
        raise InputError(f"order {order_id}: its message of {reminder.reminded_on} was prepared without a postal address "
                         "(the export gave none), so it cannot be posted")

    def open_now(other: str) -> int:
        view = manage.view(store, other, as_of) if asks_payment(reminder.stage) else None
        return view.to_pay if view else 0

    message = Outgoing(
        reminder_id=reminder.id, order_id=reminder.order_id, to=reminder.email,
        to_name=f"{reminder.first_name} {reminder.last_name}".strip(), subject=reminder.subject, text=reminder.body_text,
        html="", sender="", language=reminder.language, amount=open_now(reminder.order_id), currency=reminder.currency,
        order_key=int(reminder.order_key or 0), postal_address=reminder.postal_address, about=reminder.about, dated=as_of,
        riding=tuple(Payable(r.order_id, int(r.order_key or 0), open_now(r.order_id), r.currency) for r in store.riding(reminder)),
        fields=json.loads(reminder.merge_fields or "{}"),
    )
    return Copy(order_id, reminder.id, reminder.stage, reminder.reminded_on,
                printed.pdf(message, letterhead, accounts, copy_of=reminder.reminded_on))
