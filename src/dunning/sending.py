"""Sending a prepared batch: each reminder is claimed by one sender, then sent or failed, each step committed.

Two senders at once (a cron job and a person) never deliver a reminder twice: a reminder is
claimed with a conditional update that only one of them wins. A run sends over several connections
at once (the campaign's `connections`), each with at most one reminder in flight. A reminder left in
flight by a sender that died (its process has ended on this machine, or its claim is older than
`LEASE`) is claimed again and sent again; it is named in the report, as it may arrive twice.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import parseaddr
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dunning.channels import Outgoing, Payable, PermanentFailure, TemporaryFailure
from dunning.channels.email import message_id, unsubscribe_header
from dunning.errors import InputError
from dunning.reminders import asks_payment
from dunning.journal.queue import failed, sent
from dunning.letters import ASKED
from dunning.journal.store import Store
from dunning.journal.tables import SENDING, SENT

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
         sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> SendReport:
    """Send the prepared batch: each reminder goes prepared -> sending -> sent/failed, each step committed
    before the next one starts (a reminder's outcome and its connection's next claim share one commit).

    `channel` is one channel, or a list of them (one per connection, each worked by its own thread, as
    `select.channels_for` makes them for the campaign's `connections`). A refused address is marked failed and
    the batch goes on. Each reminder sent is dated `as_of` in the ledger. Dry by default: nothing is sent and
    nothing changes.
    """
    row = store.campaign(campaign.name)
    if row is None:
        raise InputError(f"campaign {campaign.name} is not prepared yet: run `dunning campaign prepare {campaign.name}`")
    pending = store.pending(row.id)
    report = SendReport(dry_run=dry_run, would_send=len(pending))
    if dry_run:
        return report
    channels = list(channel) if isinstance(channel, (list, tuple)) else [channel]
    if getattr(channels[0], "batch", False):
        _send_batch(campaign, store, channels[0], _claimed(store, pending, report), report, on_progress, as_of)
        return report
    try:
        _send_each(_Queue(campaign, row.id, store, pending, report, on_progress, as_of, sleep, clock), channels)
    finally:
        for each in channels:
            each.close()
    return report


class _Queue:
    """The reminders to send, handed out to the connections one at a time under a lock, at the campaign's rate."""

    def __init__(self, campaign: Campaign, campaign_id: int, store: Store, pending: list[sa.Row], report: SendReport,
                 on_progress: Callable[[int, int], None], as_of: date, sleep: Callable[[float], None],
                 clock: Callable[[], float]):
        self.campaign, self.campaign_id, self.store, self.report = campaign, campaign_id, store, report
        self.on_progress, self.as_of, self.sleep, self.clock = on_progress, as_of, sleep, clock
        self.waiting, self.total, self.done = iter(pending), len(pending), 0
        self.lock, self.stopped = threading.Lock(), threading.Event()
        self.interval, self.next_slot = 60.0 / campaign.rate_per_minute, 0.0
        self.me = sender_id()

    def next(self, outcome: tuple[sa.Row, tuple[int, dict]] | None) -> sa.Row | None:
        """Record how the last reminder went and claim the next one this sender wins (one commit), then wait for
        its slot at the campaign's rate; None when there is nothing left (or another connection failed)."""
        with self.lock:
            if outcome:
                self._count(outcome[0], outcome[1][1])
            settled = outcome[1] if outcome else None
            reminder, unrecorded = (None, settled) if self.stopped.is_set() else self._claim_next(settled)
            if reminder is None:
                if unrecorded is not None:
                    self.store.step(unrecorded, None, self.me)
                return None
            slot, self.next_slot = self.next_slot, max(self.next_slot, self.clock()) + self.interval
        wait = slot - self.clock()
        if wait > 0:
            self.sleep(wait)
        return reminder

    def _claim_next(self, settled: tuple[int, dict] | None) -> tuple[sa.Row | None, tuple[int, dict] | None]:
        """The next reminder this sender wins, claimed in the commit that records `settled` (None when none is
        left), and `settled` if no commit has recorded it yet."""
        for reminder in self.waiting:
            if not _free(reminder, self.report):
                continue
            won = _claim(self.store, reminder, self.me, self.report, settled)
            settled = None
            if won:
                return reminder, None
        return None, settled

    def release(self, reminder: sa.Row) -> None:
        """Back to the queue for the next run: a reminder that did not go out because the run stopped."""
        with self.lock:
            self.store.release(reminder.id, "not sent: the run stopped before it")

    def outgoing(self, reminder: sa.Row) -> Outgoing:
        return _outgoing(self.campaign_id, self.campaign, reminder, self.store.riding(reminder), self.as_of)

    def _count(self, reminder: sa.Row, values: dict) -> None:
        if values["status"] == SENT:
            self.report.sent += 1
        else:
            self.report.failed += 1
            self.report.failures.append((reminder.order_id, values["error"]))
        self.done += 1
        self.on_progress(self.done, self.total)


def _send_each(queue: _Queue, channels: list) -> None:
    """Each channel (a connection) in a thread of its own takes the next reminder, sends it, and reports how it went;
    an error that is no delivery failure (a login refused) stops every connection and is raised here."""
    errors: list[BaseException] = []

    def work(channel) -> None:
        outcome = None
        try:
            while (reminder := queue.next(outcome)) is not None:
                try:
                    sent_id = channel.send(queue.outgoing(reminder))
                except (PermanentFailure, TemporaryFailure) as exc:
                    outcome = (reminder, (reminder.id, failed(str(exc))))
                except InputError:  # the channel could not start (a login refused): this reminder did not go out
                    queue.release(reminder)
                    raise
                else:
                    outcome = (reminder, (reminder.id, sent(sent_id, queue.as_of)))
        except BaseException as exc:  # noqa: BLE001  (raised again in the caller's thread)
            queue.stopped.set()
            errors.append(exc)

    if len(channels) == 1:
        work(channels[0])
    else:
        threads = [threading.Thread(target=work, args=(each,), name=f"dunning-send-{n}") for n, each in enumerate(channels)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C: each connection finishes and records the message it has in flight
            queue.stopped.set()
            for thread in threads:
                thread.join()
            raise
    if errors:
        raise errors[0]


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
    me = sender_id()
    return [reminder for reminder in candidates if _free(reminder, report) and _claim(store, reminder, me, report)]


def _free(reminder: sa.Row, report: SendReport) -> bool:
    """Not in flight under a live sender (that one is left to it, and counted)."""
    if reminder.status == SENDING and not orphaned(reminder, datetime.now(timezone.utc)):
        report.taken_by_another_sender += 1
        return False
    return True


def _claim(store: Store, reminder: sa.Row, me: str, report: SendReport, settled: tuple[int, dict] | None = None) -> bool:
    """Claim the reminder for this sender in the commit that records `settled` (a connection's last outcome);
    one lost to another sender is counted, one taken over from a sender that died is named."""
    if not store.step(settled, reminder, me):
        report.taken_by_another_sender += 1
        return False
    if reminder.status == SENDING:
        report.resent_in_flight.append(reminder.order_id)
    return True


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


def _outgoing(campaign_id: int, campaign: Campaign, reminder, riding: list, as_of: date) -> Outgoing:
    """The message of a reminder (and of the others of its letter, `riding`, which it lists), going out on `as_of`."""
    return Outgoing(
        reminder_id=reminder.id, order_id=reminder.order_id, to=reminder.email,
        to_name=f"{reminder.first_name} {reminder.last_name}".strip(),
        subject=reminder.subject, text=reminder.body_text, html=reminder.body_html, sender=campaign.sender,
        reply_to=campaign.reply_to, message_id=message_id(campaign_id, reminder.id, campaign.sender),
        list_unsubscribe=unsubscribe_header(campaign.reply_to, campaign.sender), language=reminder.language,
        amount=_asked(reminder), currency=reminder.currency, order_key=int(reminder.order_key or 0),
        riding=tuple(Payable(r.order_id, int(r.order_key or 0), _asked(r), r.currency) for r in riding),
        postal_address=reminder.postal_address, about=reminder.about, dated=as_of, fields=json.loads(reminder.merge_fields or "{}"),
    )


def _asked(reminder) -> int:
    """What a reminder asks to be paid: the open amount with its fee, interest and costs (nothing for a cancellation)."""
    return sum(int(getattr(reminder, column)) for column in ASKED) if asks_payment(reminder.stage) else 0
