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
under a campaign that has not gone out yet. A send whose answer is lost is judged by the campaign's
status, not by the error. The tag of a campaign that went out is deleted.

The audience must be the one kept for payment reminders: named as `audience_name` says, holding no
campaign but ours, and not the account's first audience (where sign-up forms add contacts).

Mailchimp's limits respected here: text merge fields hold at most 255 bytes; an audience has at
most 30 merge fields; a tag takes at most 500 members per call. The API itself (key, retries,
paging, errors) is `mailchimp_api.MailchimpApi`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from jinja2 import TemplateError
from markupsafe import Markup

from dunning.channels import PermanentFailure, TemporaryFailure
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
# merge fields a campaign fills only sometimes (a policy with a law): created in the audience only where one is used
OPTIONAL_FIELDS = frozenset({"interest_text", "costs_text", "costs_warning_text", "other_orders_text"})
TITLE_PREFIX = "dunning "
NEW_STATUSES = ("subscribed", "pending", "transactional")
GONE_OUT = ("sent", "sending", "schedule")


@dataclass(frozen=True)
class MailchimpSettings:
    list_id: str
    audience_name: str = ""
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
    address: str = ""
    subjects: dict[str, str] = field(default_factory=dict)  # a campaign's own subject per language


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
        self._check_audience(list_id)
        self._ensure_merge_fields(list_id, reminders)
        self._sweep_tags(list_id)
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
        """Upsert the round's contacts, send one campaign per variant of the message, and wait until they have gone
        out. A variant Mailchimp refuses fails alone; the others still go."""
        campaign_name, sender_name, reply_to, as_of = envelope
        accepted = [r for r in batch if self._upsert(list_id, r, results)]
        groups: dict[Variant, list] = defaultdict(list)
        for reminder in accepted:
            groups[_variant(reminder)].append(reminder)
        started = []
        for variant, group in sorted(groups.items()):
            ids = sorted(r.id for r in group)
            key = f"#{ids[0]}-{hashlib.sha1(','.join(map(str, ids)).encode()).hexdigest()[:6]}"
            title = f"{TITLE_PREFIX}{campaign_name} {variant.language} {key}"
            campaign_id = ""
            try:
                segment = self._segment(list_id, title)
                for start in range(0, len(group), SEGMENT_BATCH):
                    self._call(self.client.lists.batch_segment_members,
                               {"members_to_add": [r.email for r in group[start:start + SEGMENT_BATCH]]}, list_id,
                               segment["id"])
                campaign_id = self._campaign(list_id, segment["id"], title, variant, sender_name, reply_to, as_of)
                handed(ids, campaign_id)
                self._go(campaign_id)
            except PermanentFailure as exc:
                if campaign_id:
                    self._discard(campaign_id)
                for reminder in group:
                    results[reminder.id] = (False, f"Mailchimp refused the campaign {title!r}: {exc}")
                continue
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
        """Send or schedule the campaign. When the call fails (its answer lost, a retry refused as already sent), the
        campaign's status decides: gone out is gone out; otherwise the error stands."""
        try:
            if self.settings.schedule_time:
                self._call(self.client.campaigns.schedule, campaign_id, {"schedule_time": self.settings.schedule_time})
            else:
                self._call(self.client.campaigns.send, campaign_id)
        except (PermanentFailure, TemporaryFailure):
            if self._call(self.client.campaigns.get, campaign_id, fields=["status"])["status"] not in GONE_OUT:
                raise

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
        if status == "sent":
            self._drop_segment(list_id, segment_id)

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

    def _check_audience(self, list_id: str) -> None:
        """Refuse an audience that is not the one kept for payment reminders: another name than `audience_name`, a
        campaign in it that is not ours, or the account's first audience."""
        try:
            audience = self._call(self.client.lists.get_list, list_id, fields=["id", "name", "date_created"])
        except PermanentFailure as exc:
            raise InputError(f"[mailchimp] list_id {list_id!r}: {exc}") from None
        name = audience.get("name", "")
        if not self.settings.audience_name:
            raise InputError(f"[mailchimp] audience_name is not set: set it to the name of the audience kept for payment "
                             f"reminders (list {list_id} is {name!r})")
        if name != self.settings.audience_name:
            raise InputError(f"[mailchimp] list_id {list_id!r} is the audience {name!r}, not {self.settings.audience_name!r} "
                             "as audience_name says: check list_id")
        foreign = next((c["settings"].get("title", "") for c in self._pages(self.client.campaigns.list, "campaigns",
                                                                             list_id=list_id)
                        if not c["settings"].get("title", "").startswith(TITLE_PREFIX)), None)
        if foreign is not None:
            raise InputError(f"the Mailchimp audience {name!r} holds the campaign {foreign!r}, which dunning did not make: "
                             "payment reminders need an audience of their own (debtors would get the newsletter)")
        audiences = sorted(self._pages(self.client.lists.get_all_lists, "lists", fields=["lists.id", "lists.date_created",
                                                                                     "total_items"]),
                           key=lambda a: (a.get("date_created", ""), a["id"]))
        if len(audiences) > 1 and audiences[0]["id"] == list_id:
            raise InputError(f"the Mailchimp audience {name!r} is the account's first audience, where sign-up forms and "
                             "integrations add contacts: payment reminders need an audience of their own")

    def _discard(self, campaign_id: str) -> None:
        """Delete a draft Mailchimp refused to send."""
        if self._call(self.client.campaigns.get, campaign_id, fields=["status"])["status"] == "save":
            self._call(self.client.campaigns.remove, campaign_id)

    def _sweep_tags(self, list_id: str) -> None:
        """Delete the tags of our campaigns that went out since an earlier run (a scheduled one, say)."""
        done = {str(c["recipients"]["segment_opts"]["saved_segment_id"])
                for c in self._pages(self.client.campaigns.list, "campaigns", list_id=list_id, status="sent")
                if c["settings"].get("title", "").startswith(TITLE_PREFIX)}
        for segment in list(self._pages(self.client.lists.list_segments, "segments", list_id, type="static")):
            if segment["name"].startswith(TITLE_PREFIX) and str(segment["id"]) in done:
                self._drop_segment(list_id, segment["id"])

    def _drop_segment(self, list_id: str, segment_id: int) -> None:
        """Delete a campaign's tag once the campaign went out (its recipients stay in the sent-to report)."""
        try:
            self._call(self.client.lists.delete_segment, list_id, str(segment_id))
        except PermanentFailure:
            pass  # already gone

    def _ensure_merge_fields(self, list_id: str, reminders: list) -> None:
        """The audience's merge fields for every field a reminder carries (the optional ones only where one is used)."""
        existing = list(self._pages(self.client.lists.get_list_merge_fields, "merge_fields", list_id))
        have = {f["tag"] for f in existing}
        used = {key for r in reminders for key, value in json.loads(r.merge_fields).items() if key in OPTIONAL_FIELDS and value}
        wanted = {key: tag for key, tag in MAILCHIMP.merge_names.items()
                  if tag not in BUILT_IN_TAGS and (key not in OPTIONAL_FIELDS or key in used)}
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

    def _campaign(self, list_id: str, segment_id: int, title: str, variant: Variant, from_name: str, reply_to: str,
                  as_of: date) -> str:
        """A draft campaign of this title for the segment, with its subject and content set for the variant and a test
        sent to the merchant."""
        content = self._content(variant, as_of)
        drafts = [c for c in self._pages(self.client.campaigns.list, "campaigns", list_id=list_id, status="save")
                  if c["settings"]["title"] == title]
        draft = drafts[0] if drafts else self._call(self.client.campaigns.create, {
            "type": "regular",
            "recipients": {"list_id": list_id, "segment_opts": {"saved_segment_id": segment_id}},
            "settings": {"subject_line": content.subject, "title": title, "from_name": from_name, "reply_to": reply_to},
        })
        body = {"html": content.html, "plain_text": content.text} if content.html else {"plain_text": content.text}
        self._call(self.client.campaigns.set_content, draft["id"], body)
        if self.settings.test_emails:
            self._call(self.client.campaigns.send_test_email, draft["id"],
                       {"test_emails": list(self.settings.test_emails), "send_type": "html"})
        return draft["id"]

    def _content(self, variant: Variant, as_of: date) -> mailmerge.Message:
        """The stage's message for the variant with every customer's value a merge tag, the subject included."""
        tags = {key: Markup(MAILCHIMP.tag(key)) for key in TEMPLATE_VARIABLES}
        stage = self.shop.stage
        context = mailmerge.context(tags, language=variant.language, stage=stage, stage_name=stage.name,
                                    shop_name=self.shop.name, shop_contact=self.shop.contact,
                                    shop_address=self.shop.address, asked=variant.asked,
                                    reminders_sent=variant.reminders_sent,
                                    pay_by_text=mailmerge.pay_by_text(stage, as_of, variant.language),
                                    unsubscribe_url=Markup(MAILCHIMP.unsubscribe), still_open=variant.still_open)
        message = self.templates.render(stage.name, variant.language, context)
        own = self.shop.subjects.get(variant.language)
        if own is None:
            return message
        try:
            subject = self.templates.env.from_string(own).render(context)
        except TemplateError as exc:
            raise InputError(f"[subject] {variant.language}: {exc}") from None
        return dataclasses.replace(message, subject=" ".join(subject.split()))


class Variant(NamedTuple):
    """What makes two reminders' messages differ beyond merge tags: one campaign per variant."""

    language: str
    asked: frozenset[str]  # the lines beyond the open amount (mailmerge.LINES) its messages carry
    reminders_sent: int
    still_open: bool


def _variant(reminder) -> Variant:
    fields = json.loads(reminder.merge_fields)
    return Variant(reminder.language, mailmerge.asks(fields), int(fields.get("reminders_sent") or 0),
                   Decimal(fields.get("open_amount") or "0") > 0)


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
             and MAILCHIMP.merge_names[key] != "EMAIL" and (value or key not in OPTIONAL_FIELDS)}
    return {"email_address": reminder.email, "status_if_new": status_if_new, "merge_fields": merge,
            "language": reminder.language}


def _clip(text: str) -> str:
    """Mailchimp text merge fields hold at most 255 bytes."""
    return str(text).encode("utf-8")[:TEXT_LIMIT].decode("utf-8", errors="ignore")
