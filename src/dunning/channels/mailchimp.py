"""The Mailchimp channel, through the official mailchimp-marketing client.

Mailchimp keeps merge fields on the contact, not on the message, and renders a campaign when it
goes out. So a prepared batch goes out in rounds: each round holds at most one reminder per
address, and the next round only starts once Mailchimp reports the campaigns of the round sent.
Per round and language: each contact is added or updated (PUT, `status_if_new` for new contacts;
an existing contact keeps its status), a tag (static segment) named after the round holds exactly
its recipients, and a campaign of its own goes to that tag. A reminder counts as sent only when
the campaign's recipients (Mailchimp's sent-to report, or the tag of a scheduled campaign) hold its
address. Before a campaign is sent, its id is written to the reminders (`handed`): a run after a
crash finds it and proves the earlier send instead of sending again. An address that is in a
scheduled or sending campaign of ours waits for the next run, so its merge fields are not changed
under a campaign that has not gone out yet.

Mailchimp's limits respected here: text merge fields hold at most 255 bytes; an audience has at
most 30 merge fields; a tag takes at most 500 members per call. The API itself (key, retries,
paging, errors) is `mailchimp_api.MailchimpApi`.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from markupsafe import Markup

from dunning.channels import PermanentFailure
from dunning.channels.mailchimp_api import MailchimpApi
from dunning.errors import InputError
from dunning.exports.dialects import MAILCHIMP
from dunning import mailmerge
from dunning.mailmerge import TEMPLATE_VARIABLES, Templates
from dunning.policy import Stage

SEGMENT_BATCH = 500
MAX_MERGE_FIELDS = 30
TEXT_LIMIT = 255
BUILT_IN_TAGS = {"EMAIL", "FNAME", "LNAME"}
TITLE_PREFIX = "dunning "
NEW_STATUSES = ("subscribed", "pending", "transactional")
GONE_OUT = ("sent", "sending", "schedule")


@dataclass(frozen=True)
class MailchimpSettings:
    list_id: str
    server: str = ""
    test_emails: list[str] = field(default_factory=list)
    schedule_time: str = ""
    status_if_new: str = "subscribed"
    retries: int = 4
    backoff_seconds: float = 2.0
    wait_seconds: float = 900.0
    api_url: str = ""


@dataclass(frozen=True)
class Shop:
    """What the template says about the merchant, and the stage it is for."""

    name: str
    contact: str
    stage: Stage
    has_fee: bool
    address: str = ""


class MailchimpChannel:
    """Delivers a batch as Mailchimp campaigns: per round of distinct addresses, one campaign per language."""

    batch = True

    def __init__(self, settings: MailchimpSettings, templates: Templates, shop: Shop, environ: dict | None = None,
                 sleep=time.sleep):
        if settings.status_if_new not in NEW_STATUSES:
            raise InputError(f"[mailchimp] status_if_new must be one of {', '.join(NEW_STATUSES)}, not {settings.status_if_new!r}")
        api = MailchimpApi.from_environment(settings.server, settings.api_url, settings.retries, settings.backoff_seconds,
                                            os.environ if environ is None else environ, sleep)
        self.client, self._call, self._pages = api.client, api.call, api.pages
        self.settings, self.templates, self.shop, self.sleep = settings, templates, shop, sleep

    def deliver(self, campaign_name: str, sender_name: str, reply_to: str, reminders: list, *, as_of: date,
                handed: Callable[[list[int], str], None]) -> dict[int, tuple[bool | None, str]]:
        """Send the batch. Per reminder id: (True, Mailchimp campaign id) once a campaign that went out holds its
        address, (False, why) when it cannot be sent, or (None, why) when it waits for the next run."""
        list_id = self.settings.list_id
        self._ensure_merge_fields(list_id)
        results: dict[int, tuple[bool | None, str]] = {}
        todo = self._not_proven(list_id, reminders, results)
        todo = self._not_busy(list_id, todo, results)
        envelope = (campaign_name, sender_name, reply_to, as_of)
        rounds = _rounds(todo)
        for number, batch in enumerate(rounds):
            self._send_round(list_id, batch, envelope, handed, results)
            _wait(results, batch, "Mailchimp is still sending this reminder's campaign; run campaign send again")
            later = [r for rest in rounds[number + 1:] for r in rest]
            if later and self.settings.schedule_time:
                _wait(results, later, "another reminder to this address is scheduled in Mailchimp; run campaign send "
                                      "again after it has gone out")
                break
            if later and any(results[r.id][0] is None for r in batch):
                _wait(results, later, "Mailchimp has not finished sending the previous reminder to this address; "
                                      "run campaign send again")
                break
        return results

    def close(self) -> None:
        """The client keeps no connection open."""

    # rounds -------------------------------------------------------------------------------

    def _send_round(self, list_id: str, batch: list, envelope: tuple, handed, results: dict) -> None:
        """Upsert the round's contacts, send one campaign per language, and wait until they have gone out."""
        campaign_name, sender_name, reply_to, as_of = envelope
        accepted = [r for r in batch if self._upsert(list_id, r, results)]
        groups: dict[tuple[str, bool], list] = defaultdict(list)  # a confirmation says whether something is still open
        for reminder in accepted:
            groups[(reminder.language, _still_open(reminder))].append(reminder)
        started = []
        for (language, still_open), group in sorted(groups.items()):
            ids = sorted(r.id for r in group)
            key = f"#{ids[0]}-{hashlib.sha1(','.join(map(str, ids)).encode()).hexdigest()[:6]}"
            title = f"{TITLE_PREFIX}{campaign_name} {language} {key}"
            segment = self._segment(list_id, title)
            for start in range(0, len(group), SEGMENT_BATCH):
                self._call(self.client.lists.batch_segment_members,
                           {"members_to_add": [r.email for r in group[start:start + SEGMENT_BATCH]]}, list_id, segment["id"])
            sent_before = min(json.loads(r.merge_fields).get("reminders_sent", 0) for r in group)
            campaign_id = self._campaign(list_id, segment["id"], title, (language, sent_before, still_open), sender_name,
                                         reply_to, group[0].subject, as_of)
            handed(ids, campaign_id)
            self._go(campaign_id)
            started.append((campaign_id, segment["id"], group))
        for campaign_id, segment_id, group in started:
            self._confirm(list_id, campaign_id, segment_id, group, results)

    def _upsert(self, list_id: str, reminder, results: dict) -> bool:
        """Add or update the reminder's contact with this order's merge fields; False (and why) when a campaign
        cannot reach it."""
        try:
            member = self._call(self.client.lists.set_list_member, list_id, _hash(reminder.email),
                                _member(reminder, self.settings.status_if_new))
        except PermanentFailure as exc:
            results[reminder.id] = (False, f"Mailchimp refused {reminder.email}: {exc}")
            return False
        if member.get("status") != "subscribed":
            results[reminder.id] = (False, f"{reminder.email} is {member.get('status')} in the Mailchimp audience, and a "
                                           "campaign reaches only subscribed contacts: remind them by smtp or outbox")
            return False
        return True

    def _go(self, campaign_id: str) -> None:
        if self.settings.schedule_time:
            self._call(self.client.campaigns.schedule, campaign_id, {"schedule_time": self.settings.schedule_time})
        else:
            self._call(self.client.campaigns.send, campaign_id)

    def _confirm(self, list_id: str, campaign_id: str, segment_id: int, group: list, results: dict) -> None:
        """Wait for the campaign to go out, then mark each reminder sent when its address is among the recipients.
        A campaign still sending after `wait_seconds` leaves its reminders without a result (the next run proves them)."""
        status = self._status(campaign_id, wait=not self.settings.schedule_time)
        if status not in ("sent", "schedule"):
            return
        recipients = self._recipients(list_id, campaign_id, segment_id, status)
        for reminder in group:
            if reminder.email.lower() in recipients:
                results[reminder.id] = (True, campaign_id)
            else:
                results[reminder.id] = (False, f"Mailchimp's campaign {campaign_id} went out without {reminder.email}")

    def _status(self, campaign_id: str, wait: bool) -> str:
        """The campaign's status; while it is sending (and `wait`), asked again with doubling pauses up to wait_seconds."""
        delay, waited = 1.0, 0.0
        while True:
            status = self._call(self.client.campaigns.get, campaign_id, fields=["status"])["status"]
            if status != "sending" or not wait or waited >= self.settings.wait_seconds:
                return status
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 60.0)

    def _recipients(self, list_id: str, campaign_id: str, segment_id: int, status: str) -> set[str]:
        """The addresses a campaign went to (sent), or will go to (scheduled: the subscribed members of its tag)."""
        if status == "sent":
            return {r["email_address"].lower() for r in self._pages(
                self.client.reports.get_campaign_recipients, "sent_to", campaign_id)}
        return {m["email_address"].lower() for m in self._pages(
            self.client.lists.get_segment_members_list, "members", list_id, str(segment_id)) if m["status"] == "subscribed"}

    # earlier runs ---------------------------------------------------------------------------

    def _not_proven(self, list_id: str, reminders: list, results: dict) -> list:
        """Reminders an earlier run handed to a campaign that went out are proven sent; the others are still to do.
        A draft an earlier run left behind is deleted."""
        todo = []
        for reminder in reminders:
            if not reminder.message_id:
                todo.append(reminder)
                continue
            try:
                campaign = self._call(self.client.campaigns.get, reminder.message_id)
            except PermanentFailure:
                todo.append(reminder)
                continue
            if campaign["status"] == "save":
                self._call(self.client.campaigns.remove, campaign["id"])
                todo.append(reminder)
                continue
            segment_id = campaign["recipients"]["segment_opts"]["saved_segment_id"]
            self._confirm(list_id, campaign["id"], segment_id, [reminder], results)
            if reminder.id not in results:
                _wait(results, [reminder], f"Mailchimp's campaign {campaign['id']} is still sending; run campaign send again")
        return todo

    def _not_busy(self, list_id: str, reminders: list, results: dict) -> list:
        """Reminders whose address is in one of our campaigns that is scheduled or sending wait for the next run."""
        busy: dict[str, str] = {}
        for status in ("schedule", "sending"):
            for campaign in self._pages(self.client.campaigns.list, "campaigns", list_id=list_id, status=status):
                if campaign["settings"].get("title", "").startswith(TITLE_PREFIX):
                    segment_id = str(campaign["recipients"]["segment_opts"]["saved_segment_id"])
                    for member in self._pages(self.client.lists.get_segment_members_list, "members", list_id, segment_id):
                        busy[member["email_address"].lower()] = campaign["settings"]["title"]
        free = [r for r in reminders if r.email.lower() not in busy]
        for reminder in reminders:
            if reminder.email.lower() in busy:
                _wait(results, [reminder], f"{reminder.email} is in the Mailchimp campaign {busy[reminder.email.lower()]!r}, "
                                           "which has not gone out yet; run campaign send again after it has")
        return free

    # audience and campaign ----------------------------------------------------------------------

    def _ensure_merge_fields(self, list_id: str) -> None:
        existing = list(self._pages(self.client.lists.get_list_merge_fields, "merge_fields", list_id))
        have = {f["tag"] for f in existing}
        wanted = {key: tag for key, tag in MAILCHIMP.merge_names.items() if tag not in BUILT_IN_TAGS}
        missing = {key: tag for key, tag in wanted.items() if tag not in have}
        if len(existing) + len(missing) > MAX_MERGE_FIELDS:
            raise InputError(f"the Mailchimp audience has {len(existing)} merge fields; adding {len(missing)} would pass "
                             f"Mailchimp's limit of {MAX_MERGE_FIELDS}: use an audience of its own for payment reminders")
        for key, tag in missing.items():
            self._call(self.client.lists.add_list_merge_field, list_id,
                       {"tag": tag, "name": key.replace("_", " ").title()[:50], "type": "text", "public": False})

    def _segment(self, list_id: str, name: str) -> dict:
        """The static segment (tag) of this name, created when missing."""
        for segment in self._pages(self.client.lists.list_segments, "segments", list_id, type="static"):
            if segment["name"] == name:
                return segment
        return self._call(self.client.lists.create_segment, list_id, {"name": name, "static_segment": []})

    def _campaign(self, list_id: str, segment_id: int, title: str, variant: tuple[str, int, bool], from_name: str,
                  reply_to: str, subject: str, as_of: date) -> str:
        """A draft campaign of this title for the segment, with its content set for the variant (language, reminders
        sent before, something still open) and a test sent to the merchant."""
        drafts = [c for c in self._pages(self.client.campaigns.list, "campaigns", list_id=list_id, status="save")
                  if c["settings"]["title"] == title]
        draft = drafts[0] if drafts else self._call(self.client.campaigns.create, {
            "type": "regular",
            "recipients": {"list_id": list_id, "segment_opts": {"saved_segment_id": segment_id}},
            "settings": {"subject_line": subject, "title": title, "from_name": from_name, "reply_to": reply_to},
        })
        content = self._content(*variant, as_of)
        body = {"html": content.html, "plain_text": content.text} if content.html else {"plain_text": content.text}
        self._call(self.client.campaigns.set_content, draft["id"], body)
        if self.settings.test_emails:
            self._call(self.client.campaigns.send_test_email, draft["id"],
                       {"test_emails": list(self.settings.test_emails), "send_type": "html"})
        return draft["id"]

    def _content(self, language: str, reminders_sent: int, still_open: bool, as_of: date):
        tags = {key: Markup(MAILCHIMP.tag(key)) for key in TEMPLATE_VARIABLES}
        stage = self.shop.stage
        context = mailmerge.context(tags, language=language, stage=stage, stage_name=stage.name, shop_name=self.shop.name,
                                    shop_contact=self.shop.contact, shop_address=self.shop.address,
                                    has_fee=self.shop.has_fee, reminders_sent=reminders_sent,
                                    pay_by_text=mailmerge.pay_by_text(stage, as_of, language),
                                    unsubscribe_url=Markup(MAILCHIMP.unsubscribe), still_open=still_open)
        return self.templates.render(stage.name, language, context)


def _rounds(reminders: list) -> list[list]:
    """The reminders in rounds that hold each address at most once: the first reminder to every address, then the second..."""
    seen: dict[str, int] = defaultdict(int)
    rounds: list[list] = []
    for reminder in sorted(reminders, key=lambda r: r.id):
        number = seen[reminder.email.lower()]
        seen[reminder.email.lower()] += 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(reminder)
    return rounds


def _still_open(reminder) -> bool:
    """Whether the order still has something open (what a payment confirmation tells)."""
    return Decimal(json.loads(reminder.merge_fields).get("open_amount") or "0") > 0


def _wait(results: dict, reminders: list, why: str) -> None:
    for reminder in reminders:
        results.setdefault(reminder.id, (None, why))


def _hash(address: str) -> str:
    """Mailchimp's subscriber hash: the MD5 of the lower-case address."""
    return hashlib.md5(address.lower().encode()).hexdigest()


def _member(reminder, status_if_new: str) -> dict:
    """The contact for one reminder: address, status for a new contact, this order's merge fields (clipped to 255
    bytes), language."""
    fields = json.loads(reminder.merge_fields)
    merge = {MAILCHIMP.merge_names[key]: _clip(value) for key, value in fields.items() if key in MAILCHIMP.merge_names
             and MAILCHIMP.merge_names[key] != "EMAIL"}
    return {"email_address": reminder.email, "status_if_new": status_if_new, "merge_fields": merge,
            "language": reminder.language}


def _clip(text: str) -> str:
    """Mailchimp text merge fields hold at most 255 bytes."""
    return str(text).encode("utf-8")[:TEXT_LIMIT].decode("utf-8", errors="ignore")
