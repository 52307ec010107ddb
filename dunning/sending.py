"""Sending a prepared batch: each reminder is claimed by one sender, then sent or failed, each step its own commit.

Two senders at once (a cron job and a person) never deliver a reminder twice: a reminder is
claimed with a conditional update that only one of them wins. A reminder left in flight by a
sender that died (its process has ended on this machine, or its claim is older than `LEASE`) is
claimed again and sent again; it is named in the report, as it may arrive twice.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import parseaddr
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dunning.channels import Outgoing, PermanentFailure, TemporaryFailure
from dunning.channels.email import message_id, unsubscribe_header
from dunning.errors import InputError
from dunning.store import SENDING, Store

if TYPE_CHECKING:
    from dunning.campaigns import Campaign

LEASE = timedelta(minutes=15)


@dataclass
class SendReport:
    """What a send run did."""

    sent: int = 0
    failed: int = 0
    resent_in_flight: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = True
    would_send: int = 0
    taken_by_another_sender: int = 0


def send(campaign: Campaign, store: Store, channel, *, as_of: date, dry_run: bool = True,
         on_progress: Callable[[int, int], None] = lambda done, total: None,
         sleep: Callable[[float], None] = time.sleep) -> SendReport:
    """Send the prepared batch: each reminder goes prepared -> sending -> sent/failed in its own commit.

    A refused address is marked failed and the batch goes on. Each reminder sent is dated `as_of`
    in the ledger. Dry by default: nothing is sent and nothing changes.
    """
    row = store.campaign(campaign.name)
    if row is None:
        raise InputError(f"campaign {campaign.name} is not prepared yet: run `dunning campaign prepare {campaign.name}`")
    pending = store.pending(row.id)
    report = SendReport(dry_run=dry_run, would_send=len(pending))
    if dry_run:
        return report
    if getattr(channel, "batch", False):
        _send_batch(campaign, store, channel, _claimed(store, pending, report), report, on_progress, as_of)
        return report
    interval = 60.0 / campaign.rate_per_minute
    last = 0.0
    try:
        for done, reminder in enumerate(pending, start=1):
            if not _claimed(store, [reminder], report):
                continue
            wait = interval - (time.monotonic() - last)
            if wait > 0 and last:
                sleep(wait)
            last = time.monotonic()
            try:
                sent_id = channel.send(_outgoing(row.id, campaign, reminder))
            except (PermanentFailure, TemporaryFailure) as exc:
                store.mark_failed(reminder.id, str(exc))
                report.failed += 1
                report.failures.append((reminder.order_id, str(exc)))
            else:
                store.mark_sent(reminder.id, sent_id, as_of)
                report.sent += 1
            on_progress(done, len(pending))
    finally:
        channel.close()
    return report


def sender_id() -> str:
    """Who is sending: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def orphaned(reminder: sa.Row, now: datetime) -> bool:
    """In flight under a sender that is gone: its process has ended on this machine, or its claim is older than LEASE."""
    if reminder.claimed_by is None:
        return True
    host, _, pid = reminder.claimed_by.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _running(int(pid))
    since = reminder.sending_at if reminder.sending_at.tzinfo else reminder.sending_at.replace(tzinfo=timezone.utc)
    return now - since > LEASE


def _claimed(store: Store, candidates: list[sa.Row], report: SendReport) -> list[sa.Row]:
    """The candidates this sender wins; one in flight under a live sender is left to it."""
    me, now = sender_id(), datetime.now(timezone.utc)
    won = []
    for reminder in candidates:
        in_flight = reminder.status == SENDING
        if (in_flight and not orphaned(reminder, now)) or not store.claim(reminder, me):
            report.taken_by_another_sender += 1
            continue
        if in_flight:
            report.resent_in_flight.append(reminder.order_id)
        won.append(reminder)
    return won


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _send_batch(campaign: Campaign, store: Store, channel, claimed: list, report: SendReport,
                on_progress: Callable[[int, int], None], as_of: date) -> None:
    """A channel that delivers the whole batch at once (Mailchimp): the claimed reminders are delivered, then each
    goes to sent, failed, or back to the queue when it waits for the next run. A temporary failure leaves them in
    sending; the next run proves what went out and delivers the rest. A reminder whose earlier delivery the channel
    proves (the same external id it was handed to) was not sent again."""
    name, address = parseaddr(campaign.sender)
    try:
        results = channel.deliver(campaign.name, name or address, campaign.reply_to or address, claimed, as_of=as_of,
                                  handed=store.mark_handed)
    except PermanentFailure as exc:
        results = {r.id: (False, str(exc)) for r in claimed}
    finally:
        channel.close()
    for done, reminder in enumerate(claimed, start=1):
        ok, detail = results.get(reminder.id, (False, "not delivered"))
        if ok:
            store.mark_sent(reminder.id, detail, as_of)
            report.sent += 1
            if detail == reminder.message_id and reminder.order_id in report.resent_in_flight:
                report.resent_in_flight.remove(reminder.order_id)
        elif ok is None:
            store.release(reminder.id, detail)
            report.waiting.append((reminder.order_id, detail))
        else:
            store.mark_failed(reminder.id, detail)
            report.failed += 1
            report.failures.append((reminder.order_id, detail))
        on_progress(done, len(claimed))


def _outgoing(campaign_id: int, campaign: Campaign, reminder) -> Outgoing:
    return Outgoing(
        reminder_id=reminder.id, order_id=reminder.order_id, to=reminder.email,
        to_name=f"{reminder.first_name} {reminder.last_name}".strip(),
        subject=reminder.subject, text=reminder.body_text, html=reminder.body_html, sender=campaign.sender,
        reply_to=campaign.reply_to, message_id=message_id(campaign_id, reminder.id, campaign.sender),
        list_unsubscribe=unsubscribe_header(campaign.reply_to, campaign.sender), language=reminder.language,
        amount=int(reminder.open_amount) + int(reminder.fee), currency=reminder.currency,
    )
