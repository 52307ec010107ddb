"""Channels that deliver prepared reminders: an outbox of .eml files, SMTP, Mailchimp."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Protocol

from dunning.errors import PermanentFailure, TemporaryFailure  # noqa: F401  (what a channel raises)


class Channel(Protocol):
    """What a channel does: `send` one rendered reminder and answer its message id (raising TemporaryFailure
    or PermanentFailure), then `close`. A channel that delivers a whole batch at once (Mailchimp) sets
    `batch = True` and has `deliver(campaign_name, from_name, reply_to, reminders, *, as_of, handed)` instead of
    `send`: it answers per reminder id (True, message id), (False, why) or (None, why: waits for the next run), and
    calls `handed(reminder_ids, external_id)` before the step that cannot be taken back, so a later run can prove it.
    New channels are registered in `dunning.channels.select.CHANNELS`."""

    def send(self, message: Outgoing) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """One reminder ready to deliver."""

    reminder_id: int
    order_id: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    sender: str
    reply_to: str = ""
    message_id: str = ""
    list_unsubscribe: str = ""
    language: str = "en"
    fields: dict = field(default_factory=dict)
    amount: int = 0  # what the reminder asks for (open amount and fee), in minor units of `currency`
    currency: str = ""
    attachments: tuple[Attachment, ...] = ()
    order_key: int = 0  # the order's number in the ledger (its creditor reference carries it)
    riding: tuple[Payable, ...] = ()  # a letter for several orders: the others it lists, each with what it asks
    postal_address: str = ""  # the order's postal address (dunning.postal), for a letter by post
    about: str = ""  # a notice before a due date: due:<date>
    dated: date | None = None  # the day it goes out


@dataclass(frozen=True)
class Payable:
    """One order a message asks to be paid: its id, its number in the ledger, the amount and currency."""

    order_id: str
    order_key: int
    amount: int
    currency: str


@dataclass(frozen=True)
class Attachment:
    """A file that goes with an e-mail (a Swiss QR-bill)."""

    filename: str
    content_type: str
    data: bytes


class Attaching:
    """A channel whose messages carry the attachments `attach` makes for each (nothing where it makes none)."""

    def __init__(self, channel: Channel, attach):
        self.channel, self.attach = channel, attach

    def send(self, message: Outgoing) -> str:
        return self.channel.send(replace(message, attachments=tuple(self.attach(message))))

    def close(self) -> None:
        self.channel.close()
