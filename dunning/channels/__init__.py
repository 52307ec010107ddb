"""Channels that deliver prepared reminders: an outbox of .eml files, SMTP, Mailchimp."""
from __future__ import annotations

from dataclasses import dataclass, field
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
