"""Channels that deliver prepared reminders: an outbox of .eml files, SMTP, Mailchimp."""
from __future__ import annotations

from dataclasses import dataclass, field


class TemporaryFailure(Exception):
    """Worth trying again later (4xx, a dropped connection, 429, 5xx from an API)."""


class PermanentFailure(Exception):
    """Will not work however often it is tried (5xx from SMTP, a refused address)."""


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
