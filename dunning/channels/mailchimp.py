"""The Mailchimp channel, through the official mailchimp-marketing client.

For a prepared batch: create the merge fields the template needs (where missing), upsert the
members in batches of at most 500 (lists.batch_list_members) with their merge fields, tag them
with the campaign name and with the campaign name and language, then per language create a
campaign for that tag's segment, set its content from the template in Mailchimp merge tags, send
a test to the merchant, and send or schedule it. Every step can be run again: members are
upserted, tags added, and a draft campaign of the same title is reused instead of created twice.

Mailchimp's limits respected here: text merge fields hold at most 255 bytes; an audience has at
most 30 merge fields; at most 10 simultaneous connections per key (this channel uses one);
429 and 5xx answers are retried with doubling backoff.
"""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

import mailchimp_marketing
from mailchimp_marketing.api_client import ApiClientError
from markupsafe import Markup

from dunning.channels import PermanentFailure, TemporaryFailure
from dunning.errors import InputError
from dunning.exports.dialects import MAILCHIMP
from dunning import mailmerge
from dunning.mailmerge import TEMPLATE_VARIABLES, Templates
from dunning.policy import Stage

KEY_VARIABLE = "DUNNING_MAILCHIMP_API_KEY"
BATCH_SIZE = 500
MAX_MERGE_FIELDS = 30
TEXT_LIMIT = 255
BUILT_IN_TAGS = {"EMAIL", "FNAME", "LNAME"}


@dataclass(frozen=True)
class MailchimpSettings:
    list_id: str
    server: str = ""
    test_emails: list[str] = field(default_factory=list)
    schedule_time: str = ""
    member_status: str = "subscribed"
    retries: int = 4
    backoff_seconds: float = 2.0
    api_url: str = ""


@dataclass(frozen=True)
class Shop:
    """What the template says about the merchant, and the stage it is for."""

    name: str
    contact: str
    stage: Stage
    has_fee: bool


class MailchimpChannel:
    """Delivers a whole batch as one Mailchimp campaign per language."""

    batch = True

    def __init__(self, settings: MailchimpSettings, templates: Templates, shop: Shop, environ: dict | None = None,
                 sleep=time.sleep):
        key = (os.environ if environ is None else environ).get(KEY_VARIABLE, "")
        if not key:
            raise InputError(f"no Mailchimp API key: set {KEY_VARIABLE} in the environment")
        server = settings.server or key.rpartition("-")[2]
        if not server or server == key:
            raise InputError("the Mailchimp data centre is unknown: set [mailchimp] server (e.g. us21) or use a key ending in -us21")
        self.client = mailchimp_marketing.Client()
        self.client.set_config({"api_key": key, "server": server})
        if settings.api_url:
            self.client.api_client.host = settings.api_url.rstrip("/")
        self.settings, self.templates, self.shop, self.sleep = settings, templates, shop, sleep

    def deliver(self, campaign_name: str, sender_name: str, reply_to: str, reminders: list) -> dict[int, tuple[bool, str]]:
        """Send the batch; per reminder id: (True, Mailchimp campaign id) or (False, why)."""
        list_id = self.settings.list_id
        self._ensure_merge_fields(list_id)
        results: dict[int, tuple[bool, str]] = {}
        by_language: dict[str, list] = defaultdict(list)
        for reminder in reminders:
            by_language[reminder.language].append(reminder)
        accepted = self._upsert_members(list_id, reminders, results)
        for language, group in sorted(by_language.items()):
            members = [r for r in group if r.id in accepted]
            if not members:
                continue
            tag = f"{campaign_name}-{language}"
            for name in (campaign_name, tag):
                self._tag(list_id, name, [r.email for r in members])
            segment = self._segment(list_id, tag)
            sent_before = min(json.loads(r.merge_fields).get("reminders_sent", 0) for r in members)
            mc_id = self._send_campaign(list_id, segment["id"], f"dunning {campaign_name} {language}", language,
                                        sender_name, reply_to, members[0].subject, sent_before)
            for reminder in members:
                results[reminder.id] = (True, mc_id)
        return results

    def close(self) -> None:
        """The client keeps no connection open."""

    def _ensure_merge_fields(self, list_id: str) -> None:
        existing = self._call(self.client.lists.get_list_merge_fields, list_id, count=1000)["merge_fields"]
        have = {f["tag"] for f in existing}
        wanted = {key: tag for key, tag in MAILCHIMP.merge_names.items() if tag not in BUILT_IN_TAGS}
        missing = {key: tag for key, tag in wanted.items() if tag not in have}
        if len(existing) + len(missing) > MAX_MERGE_FIELDS:
            raise InputError(f"the Mailchimp audience has {len(existing)} merge fields; adding {len(missing)} would pass "
                             f"Mailchimp's limit of {MAX_MERGE_FIELDS}")
        for key, tag in missing.items():
            self._call(self.client.lists.add_list_merge_field, list_id,
                       {"tag": tag, "name": key.replace("_", " ").title()[:50], "type": "text", "public": False})

    def _upsert_members(self, list_id: str, reminders: list, results: dict) -> set[int]:
        accepted: set[int] = set()
        for start in range(0, len(reminders), BATCH_SIZE):
            chunk = reminders[start:start + BATCH_SIZE]
            body = {"members": [_member(r, self.settings.member_status) for r in chunk], "update_existing": True}
            answer = self._call(self.client.lists.batch_list_members, list_id, body)
            refused = {e["email_address"].lower(): e.get("error", "refused") for e in answer.get("errors", [])}
            for reminder in chunk:
                reason = refused.get(reminder.email.lower())
                if reason:
                    results[reminder.id] = (False, f"Mailchimp refused {reminder.email}: {reason}")
                else:
                    accepted.add(reminder.id)
        return accepted

    def _tag(self, list_id: str, name: str, emails: list[str]) -> None:
        segment = self._segment(list_id, name)
        for start in range(0, len(emails), BATCH_SIZE):
            self._call(self.client.lists.batch_segment_members, {"members_to_add": emails[start:start + BATCH_SIZE]},
                       list_id, segment["id"])

    def _segment(self, list_id: str, name: str) -> dict:
        """The static segment (tag) of this name, created when missing."""
        for segment in self._call(self.client.lists.list_segments, list_id, type="static", count=1000)["segments"]:
            if segment["name"] == name:
                return segment
        return self._call(self.client.lists.create_segment, list_id, {"name": name, "static_segment": []})

    def _send_campaign(self, list_id: str, segment_id: int, title: str, language: str, from_name: str,
                       reply_to: str, subject: str, reminders_sent: int) -> str:
        existing = [c for c in self._call(self.client.campaigns.list, list_id=list_id, count=1000)["campaigns"]
                    if c["settings"]["title"] == title]
        done = [c for c in existing if c["status"] in ("sent", "sending", "schedule")]
        if done:
            return done[0]["id"]
        draft = existing[0] if existing else self._call(self.client.campaigns.create, {
            "type": "regular",
            "recipients": {"list_id": list_id, "segment_opts": {"saved_segment_id": segment_id}},
            "settings": {"subject_line": subject, "title": title, "from_name": from_name, "reply_to": reply_to},
        })
        content = self._content(language, reminders_sent)
        body = {"html": content.html, "plain_text": content.text} if content.html else {"plain_text": content.text}
        self._call(self.client.campaigns.set_content, draft["id"], body)
        if self.settings.test_emails:
            self._call(self.client.campaigns.send_test_email, draft["id"],
                       {"test_emails": list(self.settings.test_emails), "send_type": "html"})
        if self.settings.schedule_time:
            self._call(self.client.campaigns.schedule, draft["id"], {"schedule_time": self.settings.schedule_time})
        else:
            self._call(self.client.campaigns.send, draft["id"])
        return draft["id"]

    def _content(self, language: str, reminders_sent: int):
        tags = {key: Markup(MAILCHIMP.tag(key)) for key in TEMPLATE_VARIABLES}
        context = mailmerge.context(tags, language=language, stage=self.shop.stage, stage_name=self.shop.stage.name,
                                    shop_name=self.shop.name, shop_contact=self.shop.contact, has_fee=self.shop.has_fee,
                                    reminders_sent=reminders_sent)
        return self.templates.render(self.shop.stage.name, language, context)

    def _call(self, method, *args, **kwargs):
        """One API call; 429 and 5xx are retried with backoff, other errors become one clear sentence."""
        delay = self.settings.backoff_seconds
        for attempt in range(self.settings.retries + 1):
            try:
                return method(*args, **kwargs)
            except ApiClientError as exc:
                status, message = _problem(exc)
                if status == 429 or status >= 500 or status == 0:
                    if attempt == self.settings.retries:
                        raise TemporaryFailure(f"Mailchimp kept answering {status}: {message}") from None
                    self.sleep(delay)
                    delay *= 2
                    continue
                if status in (401, 403):
                    raise InputError(f"Mailchimp refused the API key: {message}") from None
                raise PermanentFailure(f"Mailchimp answered {status}: {message}") from None
        raise TemporaryFailure("Mailchimp did not answer")


def _member(reminder, status: str) -> dict:
    """One member of a batch upsert: address, status, merge fields (clipped to 255 bytes), language."""
    fields = json.loads(reminder.merge_fields)
    merge = {MAILCHIMP.merge_names[key]: _clip(value) for key, value in fields.items() if key in MAILCHIMP.merge_names
             and MAILCHIMP.merge_names[key] != "EMAIL"}
    return {"email_address": reminder.email, "status": status, "merge_fields": merge, "language": reminder.language}


def _clip(text: str) -> str:
    """Mailchimp text merge fields hold at most 255 bytes."""
    return str(text).encode("utf-8")[:TEXT_LIMIT].decode("utf-8", errors="ignore")


def _problem(exc: ApiClientError) -> tuple[int, str]:
    """Status and 'title: detail' from Mailchimp's application/problem+json error body."""
    status = int(exc.status_code or 0)
    try:
        body = json.loads(exc.text) if isinstance(exc.text, str) else exc.text
        return status, f"{body.get('title', '')}: {body.get('detail', '')}".strip(": ")
    except (ValueError, AttributeError, TypeError):
        return status, str(exc.text)
