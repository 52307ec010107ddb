"""A local Mailchimp Marketing API (3.0) for tests: the endpoints the channel uses, with Mailchimp's
documented request validation, response shapes, paging (`count` defaults to 10, `offset`) and
application/problem+json errors, and the behaviour that matters for payment reminders:

- a member is added or updated with PUT /lists/{id}/members/{md5 of the lower-case address}:
  `status_if_new` applies only to a new member; an existing member keeps its status unless
  `status` is given; a merge field that does not exist or is too long is refused with a
  per-field `errors[]`;
- a regular campaign goes to the subscribed members of its segment; sending it answers at once
  and the campaign is "sending" until its status has been read `polls_to_finish` times more,
  when each recipient's message is rendered from the member's merge fields *as they are then*
  (so a channel that changes them too early is caught) and the campaign becomes "sent";
- content without `*|UNSUB|*` gets Mailchimp's own footer, as the real one adds it;
- a campaign is sent once: a second send or schedule is refused;
- a tag (static segment) can be deleted; a sent campaign keeps its recipients.

Failures can be queued per method and path (a 429 burst, a 500) to test retries, before the request
is carried out or after it (the answer lost on the way back).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
MAILCHIMP_FOOTER = "unsubscribe from this list | update subscription preferences"
MERGE_TAG = re.compile(r"\*\|([A-Z0-9_:]+)\|\*")


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, errors: list | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []


def not_found() -> Problem:
    return Problem(404, "Resource Not Found", "The requested resource could not be found.")


def page(items: list, query: dict) -> list:
    """One page of a collection: `count` (default 10, at most 1000) items from `offset`."""
    count, offset = int(query.get("count", 10)), int(query.get("offset", 0))
    if count > 1000:
        raise Problem(400, "Invalid Resource", "count may not exceed 1000.")
    return items[offset:offset + count]


def subscriber_hash(address: str) -> str:
    return hashlib.md5(address.lower().encode()).hexdigest()


@dataclass
class Audience:
    name: str = "Payment reminders"
    date_created: str = "2025-01-01T00:00:00+00:00"
    merge_fields: list[dict] = field(default_factory=lambda: [
        {"merge_id": n, "tag": tag, "name": name, "type": kind} for n, (tag, name, kind) in enumerate(
            [("FNAME", "First Name", "text"), ("LNAME", "Last Name", "text"), ("ADDRESS", "Address", "address"),
             ("PHONE", "Phone Number", "phone"), ("BIRTHDAY", "Birthday", "birthday"), ("COMPANY", "Company", "text"),
             ("COUNTRY", "Country", "text"), ("CITY", "City", "text"), ("SOURCE", "Source", "text"),
             ("MMERGE10", "Customer number", "text"), ("MMERGE11", "Interests", "text")], start=1)])
    members: dict[str, dict] = field(default_factory=dict)  # by subscriber hash
    segments: list[dict] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)  # addresses in a compliance state
    field_rules: dict[str, str] = field(default_factory=dict)  # merge tag -> why every value is refused


class FakeMailchimp:
    """State of the fake account, and the HTTP server serving it on loopback."""

    def __init__(self, api_key: str, list_ids: tuple[str, ...] = ("list1",), polls_to_finish: int = 1):
        self.api_key = api_key
        self.audiences = {list_id: Audience(date_created=f"2025-01-{n:02d}T00:00:00+00:00")
                          for n, list_id in enumerate(list_ids, start=1)}
        self.campaigns: dict[str, dict] = {}
        self.deliveries: list[dict] = []  # every message as a recipient received it
        self.tests_sent: list[tuple[str, list[str]]] = []
        self.requests: list[tuple[str, str]] = []
        self.failures: list[list] = []  # [method, path regex, status, remaining, after the request was carried out]
        self.polls_to_finish = polls_to_finish
        self.ids = itertools.count(100)
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/3.0"

    def fail(self, method: str, path_pattern: str, status: int, times: int = 1, after: bool = False) -> None:
        """The next `times` matching requests answer `status`; with `after`, once they were carried out."""
        self.failures.append([method, re.compile(path_pattern), status, times, after])

    def add_member(self, list_id: str, address: str, status: str, **merge_fields: str) -> None:
        """A contact the merchant's audience already holds."""
        self.audiences[list_id].members[subscriber_hash(address)] = {
            "id": subscriber_hash(address), "email_address": address, "status": status, "merge_fields": dict(merge_fields),
            "language": ""}

    def refuse_field(self, tag: str, message: str, list_id: str = "list1") -> None:
        """The audience refuses every value of one merge field (as a field of another type or size would)."""
        self.audiences[list_id].field_rules[tag] = message

    def received(self, address: str) -> list[dict]:
        """The messages one address received, in order."""
        return [d for d in self.deliveries if d["email"].lower() == address.lower()]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # request handling ---------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: dict | None, auth: str | None) -> tuple[int, object]:
        with self.lock:
            self.requests.append((method, path))
            self._check_auth(auth)
            failure = next((f for f in self.failures if f[0] == method and f[1].search(path) and f[3] > 0), None)
            if failure is None:
                return self._route(method, path, query, body or {})
            failure[3] -= 1
            if failure[4]:
                self._route(method, path, query, body or {})
            if failure[2] == 429:
                raise Problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
            raise Problem(failure[2], "Service Unavailable" if failure[2] == 503 else "Internal Server Error",
                          "An unexpected internal error has occurred.")

    def _check_auth(self, auth: str | None) -> None:
        if not auth or not auth.startswith("Basic "):
            raise Problem(401, "API Key Missing", "Your request did not include an API key.")
        _, _, key = base64.b64decode(auth[6:]).decode().partition(":")
        if key != self.api_key:
            raise Problem(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")

    def _route(self, method, path, query, body):
        routes = [
            ("GET", r"^/3\.0/lists$", self._lists),
            ("GET", r"^/3\.0/lists/([^/]+)$", self._list),
            ("GET", r"^/3\.0/lists/([^/]+)/merge-fields$", self._merge_fields),
            ("POST", r"^/3\.0/lists/([^/]+)/merge-fields$", self._add_merge_field),
            ("PUT", r"^/3\.0/lists/([^/]+)/members/([^/]+)$", self._set_member),
            ("GET", r"^/3\.0/lists/([^/]+)/segments$", self._segments),
            ("POST", r"^/3\.0/lists/([^/]+)/segments$", self._create_segment),
            ("POST", r"^/3\.0/lists/([^/]+)/segments/([^/]+)$", self._segment_add),
            ("DELETE", r"^/3\.0/lists/([^/]+)/segments/([^/]+)$", self._delete_segment),
            ("GET", r"^/3\.0/lists/([^/]+)/segments/([^/]+)/members$", self._segment_members),
            ("GET", r"^/3\.0/campaigns$", self._list_campaigns),
            ("POST", r"^/3\.0/campaigns$", self._create_campaign),
            ("GET", r"^/3\.0/campaigns/([^/]+)$", self._get_campaign),
            ("DELETE", r"^/3\.0/campaigns/([^/]+)$", self._delete_campaign),
            ("PUT", r"^/3\.0/campaigns/([^/]+)/content$", self._set_content),
            ("POST", r"^/3\.0/campaigns/([^/]+)/actions/test$", self._test),
            ("POST", r"^/3\.0/campaigns/([^/]+)/actions/send$", self._send),
            ("POST", r"^/3\.0/campaigns/([^/]+)/actions/schedule$", self._schedule),
            ("GET", r"^/3\.0/reports/([^/]+)/sent-to$", self._sent_to),
        ]
        for verb, pattern, action in routes:
            match = re.match(pattern, path)
            if match and verb == method:
                return action(*match.groups(), query=query, body=body)
        raise not_found()

    def _audience(self, list_id: str) -> Audience:
        if list_id not in self.audiences:
            raise not_found()
        return self.audiences[list_id]

    def _about(self, list_id: str) -> dict:
        audience = self._audience(list_id)
        campaigns = sum(1 for c in self.campaigns.values() if c["recipients"]["list_id"] == list_id)
        return {"id": list_id, "name": audience.name, "date_created": audience.date_created,
                "stats": {"member_count": sum(1 for m in audience.members.values() if m["status"] == "subscribed"),
                          "campaign_count": campaigns, "merge_field_count": len(audience.merge_fields)}}

    def _lists(self, query, body):
        lists = [self._about(list_id) for list_id in self.audiences]
        return 200, {"lists": page(lists, query), "total_items": len(lists)}

    def _list(self, list_id, query, body):
        return 200, self._about(list_id)

    def _merge_fields(self, list_id, query, body):
        fields = self._audience(list_id).merge_fields
        return 200, {"merge_fields": page(fields, query), "list_id": list_id, "total_items": len(fields)}

    def _add_merge_field(self, list_id, query, body):
        audience = self._audience(list_id)
        errors = [{"field": f, "message": "This value should not be blank."} for f in ("name", "type") if not body.get(f)]
        if errors:
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.", errors)
        tag = body.get("tag", "")
        if tag and (len(tag) > 10 or not re.fullmatch(r"[A-Z0-9_]+", tag)):
            raise Problem(400, "Invalid Resource", f"The tag {tag} must be at most 10 characters: A-Z, 0-9 and _.")
        if any(f["tag"] == tag for f in audience.merge_fields):
            raise Problem(400, "Invalid Resource", f"A Merge Field with the tag \"{tag}\" already exists for this list.")
        if len(audience.merge_fields) >= 30:
            raise Problem(400, "Invalid Resource", "Merge Max Limit Exceeded: an audience may have at most 30 merge fields.")
        created = {"merge_id": next(self.ids), "tag": tag, "name": body["name"], "type": body["type"], "list_id": list_id}
        audience.merge_fields.append(created)
        return 200, created

    def _set_member(self, list_id, member_hash, query, body):
        audience = self._audience(list_id)
        address = str(body.get("email_address", ""))
        if not EMAIL.match(address) or not address.rpartition("@")[0].isascii():  # no UTF-8 before the @
            raise Problem(400, "Invalid Resource", f"{address} looks fake or invalid, please enter a real email address.")
        if member_hash != subscriber_hash(address):
            raise Problem(400, "Invalid Resource", "The email address does not match the subscriber hash.")
        existing = audience.members.get(member_hash)
        status = body.get("status") or (None if existing else body.get("status_if_new"))
        if status is not None and status not in STATUSES:
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "status" if body.get("status") else "status_if_new",
                            "message": "Value is not one of the enum values."}])
        if existing is None and status is None:
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "status_if_new", "message": "This value should not be blank."}])
        if address.lower() in audience.blocked and status == "subscribed":
            raise Problem(400, "Member In Compliance State",
                          f"{address} is already a list member in compliance state due to unsubscribe, bounce, or compliance review.")
        tags = {f["tag"] for f in audience.merge_fields}
        merge = body.get("merge_fields", {})
        errors = [{"field": f"merge_fields.{tag}", "message": "This merge field does not exist."} for tag in merge if tag not in tags]
        errors += [{"field": f"merge_fields.{tag}", "message": "Text fields hold at most 255 bytes."}
                   for tag, value in merge.items() if tag in tags and len(str(value).encode()) > 255]
        errors += [{"field": f"merge_fields.{tag}", "message": audience.field_rules[tag]} for tag in merge
                   if tag in audience.field_rules]
        if errors:
            raise Problem(400, "Invalid Resource", "Your merge fields were invalid.", errors)
        record = existing or {"id": member_hash, "email_address": address, "merge_fields": {}, "language": ""}
        record["merge_fields"].update(merge)
        record["status"] = status or record["status"]
        record["language"] = body.get("language", record["language"])
        audience.members[member_hash] = record
        return 200, dict(record, list_id=list_id)

    def _segments(self, list_id, query, body):
        segments = [self._public(s) for s in self._audience(list_id).segments if query.get("type") in (None, s["type"])]
        return 200, {"segments": page(segments, query), "list_id": list_id, "total_items": len(segments)}

    def _public(self, segment: dict) -> dict:
        return {k: v for k, v in segment.items() if k != "emails"}

    def _create_segment(self, list_id, query, body):
        audience = self._audience(list_id)
        if not body.get("name"):
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "name", "message": "This value should not be blank."}])
        if any(s["name"] == body["name"] for s in audience.segments):
            raise Problem(400, "Invalid Resource", "Sorry, a segment with that name already exists.")
        segment = {"id": next(self.ids), "name": body["name"], "type": "static", "list_id": list_id,
                   "member_count": 0, "emails": [], "created_at": datetime.now().isoformat()}
        audience.segments.append(segment)
        return 200, self._public(segment)

    def _segment(self, audience: Audience, segment_id) -> dict:
        segment = next((s for s in audience.segments if str(s["id"]) == str(segment_id)), None)
        if segment is None:
            raise not_found()
        return segment

    def _segment_add(self, list_id, segment_id, query, body):
        audience = self._audience(list_id)
        segment = self._segment(audience, segment_id)
        to_add = body.get("members_to_add", [])
        if len(to_add) > 500:
            raise Problem(400, "Invalid Resource", "You may only add or remove up to 500 members at a time.")
        missing = [e for e in to_add if subscriber_hash(e) not in audience.members]
        added = [audience.members[subscriber_hash(e)] for e in to_add if subscriber_hash(e) in audience.members]
        segment["emails"] += [m["id"] for m in added if m["id"] not in segment["emails"]]
        segment["member_count"] = len(segment["emails"])
        errors = [{"email_addresses": missing, "error": "Email addresses not found on this list"}] if missing else []
        return 200, {"members_added": added, "members_removed": [], "errors": errors, "total_added": len(added),
                     "total_removed": 0, "error_count": len(missing)}

    def _delete_segment(self, list_id, segment_id, query, body):
        audience = self._audience(list_id)
        audience.segments.remove(self._segment(audience, segment_id))
        return 204, None

    def _segment_members(self, list_id, segment_id, query, body):
        audience = self._audience(list_id)
        members = [audience.members[h] for h in self._segment(audience, segment_id)["emails"]]
        return 200, {"members": page(members, query), "total_items": len(members)}

    def _list_campaigns(self, query, body):
        campaigns = [self._progress(c) for c in self.campaigns.values()
                     if query.get("list_id") in (None, c["recipients"]["list_id"])]
        campaigns = [self._public_campaign(c) for c in campaigns if query.get("status") in (None, c["status"])]
        return 200, {"campaigns": page(campaigns, query), "total_items": len(campaigns)}

    def _public_campaign(self, campaign: dict) -> dict:
        return {k: v for k, v in campaign.items() if k not in ("content", "sent_to", "polls")}

    def _create_campaign(self, query, body):
        if body.get("type") not in ("regular", "plaintext", "absplit", "rss", "variate"):
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "type", "message": "Value is not one of the enum values."}])
        recipients = body.get("recipients", {})
        self._audience(recipients.get("list_id", ""))
        campaign_id = uuid.uuid4().hex[:10]
        campaign = {"id": campaign_id, "web_id": next(self.ids), "type": body["type"], "status": "save",
                    "recipients": recipients, "settings": body.get("settings", {}), "content": None, "sent_to": [],
                    "emails_sent": 0, "polls": 0}
        self.campaigns[campaign_id] = campaign
        return 200, self._public_campaign(campaign)

    def _campaign(self, campaign_id: str) -> dict:
        if campaign_id not in self.campaigns:
            raise not_found()
        return self.campaigns[campaign_id]

    def _get_campaign(self, campaign_id, query, body):
        return 200, self._public_campaign(self._progress(self._campaign(campaign_id)))

    def _delete_campaign(self, campaign_id, query, body):
        if self._campaign(campaign_id)["status"] != "save":
            raise Problem(400, "Bad Request", "A campaign that has been sent or scheduled cannot be deleted.")
        del self.campaigns[campaign_id]
        return 204, None

    def _set_content(self, campaign_id, query, body):
        campaign = self._campaign(campaign_id)
        if not body.get("html") and not body.get("plain_text"):
            raise Problem(400, "Invalid Resource", "Provide html or plain_text content.")
        campaign["content"] = {"html": body.get("html", ""), "plain_text": body.get("plain_text", "")}
        return 200, dict(campaign["content"])

    def _test(self, campaign_id, query, body):
        campaign = self._campaign(campaign_id)
        if not body.get("test_emails") or body.get("send_type") not in ("html", "plaintext"):
            raise Problem(400, "Invalid Resource", "test_emails and send_type (html or plaintext) are required.")
        if not campaign["content"]:
            raise Problem(400, "Bad Request", "Your Campaign is not ready to send.")
        self.tests_sent.append((campaign_id, list(body["test_emails"])))
        return 204, None

    def _ready(self, campaign: dict) -> None:
        settings = campaign["settings"]
        if campaign["status"] != "save":
            raise Problem(400, "Bad Request", "Cannot send a campaign that has already been sent or scheduled.")
        if not campaign["content"] or not all(settings.get(k) for k in ("subject_line", "from_name", "reply_to")):
            raise Problem(400, "Bad Request", "Your Campaign is not ready to send.")

    def _send(self, campaign_id, query, body):
        campaign = self._campaign(campaign_id)
        self._ready(campaign)
        audience = self.audiences[campaign["recipients"]["list_id"]]
        segment = self._segment(audience, campaign["recipients"]["segment_opts"]["saved_segment_id"])
        campaign["sent_to"] = [h for h in segment["emails"] if audience.members[h]["status"] == "subscribed"]
        campaign["status"] = "sending"
        return 204, None

    def _progress(self, campaign: dict) -> dict:
        """A sending campaign finishes after its status was read `polls_to_finish` times: each recipient's
        message is rendered from the member's merge fields at that moment."""
        if campaign["status"] != "sending":
            return campaign
        campaign["polls"] += 1
        if campaign["polls"] < self.polls_to_finish:
            return campaign
        audience = self.audiences[campaign["recipients"]["list_id"]]
        for member_hash in campaign["sent_to"]:
            self.deliveries.append(self._render(campaign, audience.members[member_hash]))
        campaign["status"], campaign["emails_sent"] = "sent", len(campaign["sent_to"])
        return campaign

    def _render(self, campaign: dict, member: dict) -> dict:
        values = dict(member["merge_fields"], EMAIL=member["email_address"],
                      UNSUB=f"https://example.us21.list-manage.com/unsubscribe?id={member['id']}")

        def fill(text: str) -> str:
            filled = MERGE_TAG.sub(lambda m: str(values.get(m.group(1), "")), text)
            return filled if "*|UNSUB|*" in text else f"{filled}\n{MAILCHIMP_FOOTER}"

        content = campaign["content"]
        return {"campaign_id": campaign["id"], "email": member["email_address"],
                "subject": MERGE_TAG.sub(lambda m: str(values.get(m.group(1), "")), campaign["settings"]["subject_line"]),
                "text": fill(content["plain_text"]), "html": fill(content["html"]) if content["html"] else ""}

    def _schedule(self, campaign_id, query, body):
        campaign = self._campaign(campaign_id)
        self._ready(campaign)
        try:
            when = datetime.fromisoformat(str(body.get("schedule_time", "")).replace("Z", "+00:00"))
        except ValueError:
            raise Problem(400, "Invalid Resource", "schedule_time must be an ISO 8601 time.") from None
        if when.minute % 15 or when.second:
            raise Problem(400, "Invalid Resource", "Schedule time must be on the quarter-hour (:00, :15, :30, :45).")
        campaign["status"] = "schedule"
        campaign["send_time"] = body["schedule_time"]
        return 204, None

    def _sent_to(self, campaign_id, query, body):
        campaign = self._progress(self._campaign(campaign_id))
        audience = self.audiences[campaign["recipients"]["list_id"]]
        done = campaign["sent_to"] if campaign["status"] == "sent" else []
        recipients = [{"email_id": h, "email_address": audience.members[h]["email_address"], "status": "sent",
                       "campaign_id": campaign_id, "list_id": campaign["recipients"]["list_id"]} for h in done]
        return 200, {"sent_to": page(recipients, query), "campaign_id": campaign_id, "total_items": len(recipients)}


class _Handler(BaseHTTPRequestHandler):
    api: FakeMailchimp

    def log_message(self, *args) -> None:
        pass

    def _serve(self, method: str) -> None:
        path, _, raw_query = self.path.partition("?")
        query = dict(parse_qsl(raw_query))
        length = int(self.headers.get("Content-Length") or 0)
        body = None
        if length:
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return self._reply(400, {"type": ERRORS_DOC, "title": "JSON Parse Error", "status": 400,
                                         "detail": "We encountered an unspecified JSON parsing error.", "instance": ""})
        try:
            status, payload = self.api.handle(method, path, query, body, self.headers.get("Authorization"))
        except Problem as problem:
            payload = {"type": ERRORS_DOC, "title": problem.title, "status": problem.status, "detail": problem.detail,
                       "instance": str(uuid.uuid4())}
            if problem.errors:
                payload["errors"] = problem.errors
            return self._reply(problem.status, payload, "application/problem+json")
        self._reply(status, payload)

    def _reply(self, status: int, payload, content_type: str = "application/json") -> None:
        self.send_response(status)
        if payload is None:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(payload, default=list).encode()
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")
