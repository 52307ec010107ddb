"""The merchant's dashboard, behind a login: the recovery report (the same views as `dunning report --html`), the
work list and the customers' requests (with their decisions recorded here), and each order's timeline.

GET  /merchant/login, POST /merchant/login   a password checked against DUNNING_MERCHANT_PASSWORD_HASH
POST /merchant/logout
GET  /merchant/                              report, work list, requests, orders
GET  /merchant/orders/<order_id>             reminders, visits, payments, requests and decisions in date order
POST /merchant/orders/<order_id>/decide      cancelled, written off or with collection
POST /merchant/requests/<id>/done

The password is never in dunning.toml: the environment holds its hash (`dunning merchant-password` makes one).
The session is a signed cookie (Secure, HttpOnly, SameSite=Strict, 8 hours); every form carries a CSRF token
bound to the session; failed logins are limited per client in the store, shared by every worker.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import date, timedelta

import pandas as pd
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.security import check_password_hash

from dunning import actions, config, report, report_html
from dunning.journal import decisions, history
from dunning.money import format_amount
from dunning.report_texts import LANGUAGES, TEXTS
from dunning.journal.store import Store
from dunning.web.security import Limiter

PASSWORD_VARIABLE = "DUNNING_MERCHANT_PASSWORD_HASH"
LOGIN_LIMIT, LOGIN_WINDOW = 5, 900  # failed logins per client in 15 minutes
MERCHANT_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'")


def session_key(signing_keys: list[str]) -> bytes:
    """The session cookie's key, derived from the signing key (never the key itself)."""
    return hmac.new(signing_keys[0].encode(), b"dunning merchant session", hashlib.sha256).digest()


def blueprint(settings: config.Settings, store: Store, env: Mapping[str, str], today: Callable[[], date]) -> Blueprint:
    merchant = Blueprint("merchant", __name__, url_prefix="/merchant")
    password_hash = env.get(PASSWORD_VARIABLE, "")
    logins = Limiter(store, limit=LOGIN_LIMIT, window=LOGIN_WINDOW)
    language = settings.fallback_language if settings.fallback_language in LANGUAGES else "en"

    def page(template: str, status: int = 200, **context):
        lang = request.args.get("lang") if request.args.get("lang") in LANGUAGES else language
        return render_template(f"merchant/{template}", t=TEXTS[lang], lang=lang, csrf=_csrf(), report_css=report_html.stylesheet(),
                               shop_name=settings.shop.get("name", ""), **context), status

    @merchant.before_request
    def guard():
        if not password_hash:
            return page("message.html", 503, text=TEXTS[language]["not_configured"])
        if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
            abort(400)
        if request.endpoint != "merchant.login" and not session.get("merchant"):
            return redirect(url_for("merchant.login"))
        return None

    @merchant.route("/login", methods=["GET", "POST"])
    def login():
        wrong = False
        if request.method == "POST":
            client = f"login:{request.remote_addr or 'unknown'}"
            if logins.blocked(client):
                abort(429)
            if check_password_hash(password_hash, request.form.get("password", "")):
                session.clear()
                session.permanent = True
                session["merchant"], session["csrf"] = True, secrets.token_urlsafe(32)
                return redirect(url_for("merchant.dashboard"))
            logins.hit(client)
            wrong = True
        return page("login.html", 401 if wrong else 200, wrong=wrong)

    @merchant.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("merchant.login"))

    @merchant.get("/")
    def dashboard():
        lang = request.args.get("lang") if request.args.get("lang") in LANGUAGES else language
        as_of = today()
        made = report.gather(store, as_of)
        body = Markup(report_html.render(made, lang, standalone=False, stage_labels=settings.stage_labels))
        return page("dashboard.html", report_body=body, work=actions.work_list(store, settings.policy, as_of).to_dict("records"),
                    asks=decisions.requests(store).to_dict("records"), orders=_orders(made.rows, lang),
                    choices=decisions.DECISIONS)

    @merchant.get("/orders/<order_id>")
    def order(order_id: str):
        lang = request.args.get("lang") if request.args.get("lang") in LANGUAGES else language
        events = _timeline(store, order_id, TEXTS[lang], lang, settings.stage_labels, today())
        if events is None:
            abort(404)
        return page("order.html", order_id=order_id, events=events, choices=decisions.DECISIONS)

    @merchant.post("/orders/<order_id>/decide")
    def decide(order_id: str):
        amount, currency = actions.open_amount(store, order_id, today())
        if not currency:
            abort(404)
        decisions.decide(store, order_id, request.form.get("decision", ""), amount, currency, today(), request.form.get("note", "")[:500])
        return redirect(url_for("merchant.order", order_id=order_id), code=303)

    @merchant.post("/requests/<int:request_id>/done")
    def request_done(request_id: int):
        decisions.request_done(store, request_id)
        return redirect(url_for("merchant.dashboard"), code=303)

    @merchant.after_request
    def merchant_headers(response):
        response.headers["Content-Security-Policy"] = MERCHANT_CSP
        return response

    return merchant


def configure(app, signing_keys: list[str]) -> None:
    """Sessions for the dashboard: signed cookies that only travel over HTTPS, never to scripts or other sites."""
    app.secret_key = session_key(signing_keys)
    app.config.update(SESSION_COOKIE_NAME="dunning_merchant", SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", PERMANENT_SESSION_LIFETIME=timedelta(hours=8))


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _orders(rows: pd.DataFrame, lang: str) -> list[dict]:
    """The reminded orders, newest reminder first: what is still open, the last stage and date."""
    if rows.empty:
        return []
    latest = rows.sort_values("as_of", kind="stable").drop_duplicates("order_id", keep="last")
    latest = latest.sort_values(["as_of", "order_id"], ascending=[False, True]).head(500)
    return [{"order_id": r.order_id, "stage": r.stage, "reminded_on": r.as_of.date().isoformat(),
             "open": format_amount(int(r.still_open), r.currency, lang), "closed_as": r.closed_as} for r in latest.itertuples()]


def _timeline(store: Store, order_id: str, t: dict, lang: str, stage_labels: dict[str, str], as_of: date) -> list[dict] | None:
    """Everything that happened to one order, oldest first (the journal's history of it, in the merchant's words);
    None when the journal does not know it."""
    told = history.of_order(store, order_id, as_of)
    if told is None:
        return None
    events = []
    for e in told.events.itertuples():
        if e.event == "reminder" and e.status == "sent":
            stage, _, about = e.what.partition(" ")
            events.append((e.when, t["reminder_sent"].format(stage=stage_labels.get(stage, stage)) + (f" {about}" if about else "")))
        elif e.event == "visit":
            events.append((e.when, t["visited"]))
        elif e.event == "movement":
            events.append((e.when, t["payment_in"].format(amount=format_amount(int(e.amount), e.currency, lang), source=e.source)))
        elif e.event == "request":
            events.append((e.when, t["request_in"].format(wanted=t.get(e.what, e.what)) + (f": {e.note}" if e.note else "")))
        elif e.event == "decision":
            events.append((e.when, t["decided"].format(decision=t.get(e.what, e.what))))
    return [{"when": when.isoformat(), "what": what} for when, what in events]
