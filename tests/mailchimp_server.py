"""A local Mailchimp Marketing API (3.0) for tests: the endpoints the channel uses, with Mailchimp's
documented request validation, response shapes and application/problem+json errors.

Endpoints: GET/POST /lists/{id}/merge-fields, POST /lists/{id} (batch subscribe, at most 500
members), GET/POST /lists/{id}/segments, POST /lists/{id}/segments/{segment_id} (at most 500),
GET/POST /campaigns, PUT /campaigns/{id}/content, POST /campaigns/{id}/actions/test|send|schedule.
Failures can be queued per method and path (a 429 burst, a 500) to test retries.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, errors: list | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []


@dataclass
class Audience:
    merge_fields: list[dict] = field(default_factory=lambda: [
        {"merge_id": n, "tag": tag, "name": name, "type": kind} for n, (tag, name, kind) in enumerate(
            [("FNAME", "First Name", "text"), ("LNAME", "Last Name", "text"), ("ADDRESS", "Address", "address"),
             ("PHONE", "Phone Number", "phone")], start=1)])
    members: dict[str, dict] = field(default_factory=dict)
    segments: list[dict] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)  # addresses in a compliance state


class FakeMailchimp:
    """State of the fake account, and the HTTP server serving it on loopback."""

    def __init__(self, api_key: str, list_ids: tuple[str, ...] = ("list1",)):
        self.api_key = api_key
        self.audiences = {list_id: Audience() for list_id in list_ids}
        self.campaigns: dict[str, dict] = {}
        self.tests_sent: list[tuple[str, list[str]]] = []
        self.requests: list[tuple[str, str]] = []
        self.failures: list[list] = []  # [method, path regex, status, remaining]
        self.ids = itertools.count(100)
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/3.0"

    def fail(self, method: str, path_pattern: str, status: int, times: int = 1) -> None:
        self.failures.append([method, re.compile(path_pattern), status, times])

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
            for failure in self.failures:
                if failure[0] == method and failure[1].search(path) and failure[3] > 0:
                    failure[3] -= 1
                    if failure[2] == 429:
                        raise Problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
                    raise Problem(failure[2], "Internal Server Error", "An unexpected internal error has occurred.")
            return self._route(method, path, query, body or {})

    def _check_auth(self, auth: str | None) -> None:
        if not auth or not auth.startswith("Basic "):
            raise Problem(401, "API Key Missing", "Your request did not include an API key.")
        _, _, key = base64.b64decode(auth[6:]).decode().partition(":")
        if key != self.api_key:
            raise Problem(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")

    def _route(self, method, path, query, body):
        routes = [
            ("GET", r"^/3\.0/lists/([^/]+)/merge-fields$", self._merge_fields),
            ("POST", r"^/3\.0/lists/([^/]+)/merge-fields$", self._add_merge_field),
            ("POST", r"^/3\.0/lists/([^/]+)$", self._batch_members),
            ("GET", r"^/3\.0/lists/([^/]+)/segments$", self._segments),
            ("POST", r"^/3\.0/lists/([^/]+)/segments$", self._create_segment),
            ("POST", r"^/3\.0/lists/([^/]+)/segments/([^/]+)$", self._segment_members),
            ("GET", r"^/3\.0/campaigns$", self._list_campaigns),
            ("POST", r"^/3\.0/campaigns$", self._create_campaign),
            ("PUT", r"^/3\.0/campaigns/([^/]+)/content$", self._set_content),
            ("POST", r"^/3\.0/campaigns/([^/]+)/actions/test$", self._test),
            ("POST", r"^/3\.0/campaigns/([^/]+)/actions/send$", self._send),
            ("POST", r"^/3\.0/campaigns/([^/]+)/actions/schedule$", self._schedule),
        ]
        for verb, pattern, action in routes:
            match = re.match(pattern, path)
            if match and verb == method:
                return action(*match.groups(), query=query, body=body)
        raise Problem(404, "Resource Not Found", "The requested resource could not be found.")

    def _audience(self, list_id: str) -> Audience:
        if list_id not in self.audiences:
            raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
        return self.audiences[list_id]

    def _merge_fields(self, list_id, query, body):
        fields = self._audience(list_id).merge_fields
        count = int(query.get("count", 10))
        if count > 1000:
            raise Problem(400, "Invalid Resource", "count may not exceed 1000.")
        return 200, {"merge_fields": fields[:count], "list_id": list_id, "total_items": len(fields)}

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

    def _batch_members(self, list_id, query, body):
        audience = self._audience(list_id)
        members = body.get("members")
        if not isinstance(members, list):
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "members", "message": "Schema describes array, object found instead"}])
        if len(members) > 500:
            raise Problem(400, "Invalid Resource", "You may only add up to 500 members in a batch.")
        tags = {f["tag"] for f in audience.merge_fields}
        created, updated, errors = [], [], []
        for member in members:
            address = str(member.get("email_address", ""))
            problem = None
            if not EMAIL.match(address):
                problem = f"{address} looks fake or invalid, please enter a real email address."
            elif member.get("status") not in STATUSES:
                problem = "Invalid status: status must be one of subscribed, unsubscribed, cleaned, pending, transactional."
            elif address.lower() in audience.blocked:
                problem = f"{address} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."
            elif set(member.get("merge_fields", {})) - tags:
                problem = "Your merge fields were invalid."
            elif any(len(str(v).encode()) > 255 for v in member.get("merge_fields", {}).values()):
                problem = "Your merge fields were invalid: text fields hold at most 255 bytes."
            if problem:
                errors.append({"email_address": address, "error": problem, "error_code": "ERROR_GENERIC"})
                continue
            key = address.lower()
            record = {"id": key, "email_address": address, "status": member["status"],
                      "merge_fields": dict(member.get("merge_fields", {})), "language": member.get("language", "")}
            if key in audience.members:
                if body.get("update_existing"):
                    audience.members[key].update(record)
                updated.append(audience.members[key])
            else:
                audience.members[key] = record
                created.append(record)
        return 200, {"new_members": created, "updated_members": updated, "errors": errors, "total_created": len(created),
                     "total_updated": len(updated), "error_count": len(errors)}

    def _segments(self, list_id, query, body):
        segments = [s for s in self._audience(list_id).segments if query.get("type") in (None, s["type"])]
        return 200, {"segments": segments, "list_id": list_id, "total_items": len(segments)}

    def _create_segment(self, list_id, query, body):
        audience = self._audience(list_id)
        if not body.get("name"):
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "name", "message": "This value should not be blank."}])
        segment = {"id": next(self.ids), "name": body["name"], "type": "static", "list_id": list_id,
                   "member_count": 0, "emails": set(), "created_at": datetime.now().isoformat()}
        audience.segments.append(segment)
        return 200, {k: v for k, v in segment.items() if k != "emails"}

    def _segment_members(self, list_id, segment_id, query, body):
        audience = self._audience(list_id)
        segment = next((s for s in audience.segments if str(s["id"]) == segment_id), None)
        if segment is None:
            raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
        to_add = body.get("members_to_add", [])
        if len(to_add) > 500:
            raise Problem(400, "Invalid Resource", "You may only add or remove up to 500 members at a time.")
        missing = [e for e in to_add if e.lower() not in audience.members]
        added = [audience.members[e.lower()] for e in to_add if e.lower() in audience.members]
        segment["emails"] |= {m["id"] for m in added}
        segment["member_count"] = len(segment["emails"])
        errors = [{"email_addresses": missing, "error": "Email addresses not found on this list"}] if missing else []
        return 200, {"members_added": added, "members_removed": [], "errors": errors, "total_added": len(added),
                     "total_removed": 0, "error_count": len(missing)}

    def _list_campaigns(self, list_id=None, query=None, body=None):
        campaigns = [c for c in self.campaigns.values() if query.get("list_id") in (None, c["recipients"]["list_id"])]
        return 200, {"campaigns": campaigns, "total_items": len(campaigns)}

    def _create_campaign(self, query, body):
        if body.get("type") not in ("regular", "plaintext", "absplit", "rss", "variate"):
            raise Problem(400, "Invalid Resource", "The resource submitted could not be validated.",
                          [{"field": "type", "message": "Value is not one of the enum values."}])
        recipients = body.get("recipients", {})
        self._audience(recipients.get("list_id", ""))
        campaign_id = uuid.uuid4().hex[:10]
        campaign = {"id": campaign_id, "web_id": next(self.ids), "type": body["type"], "status": "save",
                    "recipients": recipients, "settings": body.get("settings", {}), "content": None, "sent_to": []}
        self.campaigns[campaign_id] = campaign
        return 200, {k: v for k, v in campaign.items() if k not in ("content", "sent_to")}

    def _campaign(self, campaign_id: str) -> dict:
        if campaign_id not in self.campaigns:
            raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
        return self.campaigns[campaign_id]

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
        segment_id = campaign["recipients"].get("segment_opts", {}).get("saved_segment_id")
        segment = next(s for s in audience.segments if s["id"] == segment_id)
        campaign["sent_to"] = sorted(e for e in segment["emails"] if audience.members[e]["status"] == "subscribed")
        campaign["status"] = "sent"
        return 204, None

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
        campaign["schedule_time"] = body["schedule_time"]
        return 204, None


class _Handler(BaseHTTPRequestHandler):
    api: FakeMailchimp

    def log_message(self, *args) -> None:
        pass

    def _serve(self, method: str) -> None:
        path, _, raw_query = self.path.partition("?")
        query = dict(part.split("=", 1) for part in raw_query.split("&") if "=" in part)
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
