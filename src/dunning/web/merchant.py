"""The merchant's dashboard, behind a login: the recovery report (the same views as `dunning report --html`), the
work list and the customers' requests (with their decisions recorded here), and each order's timeline.

GET  /merchant/login, POST /merchant/login   a password checked against DUNNING_MERCHANT_PASSWORD_HASH
POST /merchant/logout
GET  /merchant/                              report, work list, requests, orders
GET  /merchant/orders/<order_id>             reminders, visits, payments, requests and decisions in date order
GET  /merchant/customers/<email>             every order under an address: what each owes, one time line
GET  /merchant/letters/<campaign>/<file>     a letters campaign's file to print (print-001.pdf, ...)
GET  /merchant/copies/<order_id>             the order's last message as a letter to post (PDF; records nothing)
POST /merchant/orders/<order_id>/decide      cancelled, written off or with collection
POST /merchant/requests/<id>/done

The password is never in dunning.toml: the environment holds its hash (`dunning merchant-password` makes one), checked
for its form when the app starts. A session lives in the store (the cookie, Secure, HttpOnly, SameSite=Strict, holds
only its secret): it ends after 8 hours whatever is done with it, when the merchant signs out, and when the password
hash changes. Every form, the login's included, carries a CSRF token bound to the browser's session. Failed logins
are limited per client address, per browser that signed in before (its own long-lived cookie: the merchant still gets
in while an attacker is locked out), and from everywhere together (beyond that no password is checked at all, so a
flood of logins never slows the customers' pages); every count lives in the store, shared by every worker.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from babel.dates import format_date
from flask import Blueprint, abort, redirect, render_template, request, send_file, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from werkzeug.security import check_password_hash

from dunning import actions, campaigns, cancelling, config, report, report_html, reprint
from dunning.channels import printed
from dunning.channels.letters import PRINT_FILE, folder_of, to_print
from dunning.errors import InputError
from dunning.files import safe_name
from dunning.journal import decisions, history
from dunning.journal.pages import end_session, open_session, session_alive
from dunning.journal.store import Store
from dunning.money import format_amount, from_decimal
from dunning.report_texts import LANGUAGES, TEXTS, stage_words
from dunning.sources import profiles
from dunning.web.security import Limiter

PASSWORD_VARIABLE = "DUNNING_MERCHANT_PASSWORD_HASH"
LOGIN_LIMIT, LOGIN_WINDOW = 5, 900  # failed logins per client address in 15 minutes
DEVICE_LIMIT = 10  # failed logins per browser that signed in before, in 15 minutes
FLOOD_LIMIT, FLOOD_WINDOW = 30, 60  # failed logins from everywhere in a minute; beyond, no password is checked
SESSION_HOURS, DEVICE_DAYS = 8, 90
DEVICE_COOKIE = "dunning_device"
HASH_METHODS = ("scrypt", "pbkdf2")
MERCHANT_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'")


def session_key(signing_keys: list[str]) -> bytes:
    """The session cookie's key, derived from the signing key (never the key itself)."""
    return hmac.new(signing_keys[0].encode(), b"dunning merchant session", hashlib.sha256).digest()


def checked_hash(value: str) -> str:
    """The password hash from the environment, or one sentence saying why it is not one (checked when serving starts)."""
    method, _, rest = value.partition("$")
    if value and (not method.startswith(HASH_METHODS) or rest.count("$") != 1):
        raise InputError(f"{PASSWORD_VARIABLE} is not a password hash dunning makes (scrypt or pbkdf2, as "
                         "`dunning merchant-password` prints it): set it to that command's output, never to the password")
    return value


def blueprint(settings: config.Settings, store: Store, env: Mapping[str, str], today: Callable[[], date]) -> Blueprint:
    merchant = Blueprint("merchant", __name__, url_prefix="/merchant")
    password_hash = checked_hash(env.get(PASSWORD_VARIABLE, ""))
    password_tag = hashlib.sha256(password_hash.encode()).hexdigest()
    by_client = Limiter(store, limit=LOGIN_LIMIT, window=LOGIN_WINDOW)
    by_device = Limiter(store, limit=DEVICE_LIMIT, window=LOGIN_WINDOW)
    everyone = Limiter(store, limit=FLOOD_LIMIT, window=FLOOD_WINDOW)
    language = settings.fallback_language if settings.fallback_language in LANGUAGES else "en"

    def devices() -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(merchant_key(), salt="dunning merchant device")

    def asked_language() -> str:
        """The page's language: ?lang= where it is one the pages speak, else the shop's."""
        return request.args.get("lang") if request.args.get("lang") in LANGUAGES else language

    def page(template: str, status: int = 200, csrf: str | None = None, **context):
        lang = asked_language()
        return render_template(f"merchant/{template}", t=TEXTS[lang], lang=lang, csrf=csrf or _csrf(), report_css=report_html.stylesheet(),
                               shop_name=settings.shop.get("name", ""), signed_in=bool(session.get("sid")), **context), status

    @merchant.before_request
    def guard():
        if not password_hash:
            return page("message.html", 503, text=TEXTS[language]["not_configured"])
        if request.endpoint == "merchant.login":
            if request.method == "POST" and not _same(request.form.get("csrf"), session.get("login_csrf")):
                abort(400)
            return None
        secret = session.get("sid")
        if not secret or not session_alive(store, secret, password_tag):
            session.clear()
            return redirect(url_for("merchant.login"))
        if request.method == "POST" and not _same(request.form.get("csrf"), session.get("csrf")):
            abort(400)
        return None

    @merchant.route("/login", methods=["GET", "POST"])
    def login():
        wrong = False
        if request.method == "POST":
            device = _device(devices(), request.cookies.get(DEVICE_COOKIE, ""))
            limits = [(by_device, f"device:{device}")] if device else [(by_client, f"login:{request.remote_addr or 'unknown'}"),
                                                                       (everyone, "login:*")]
            if any(limit.blocked(key) for limit, key in limits):
                abort(429)
            if check_password_hash(password_hash, request.form.get("password", "")):
                session.clear()
                session.permanent = True
                session["sid"] = open_session(store, password_tag, timedelta(hours=SESSION_HOURS))
                session["csrf"] = secrets.token_urlsafe(32)
                response = redirect(url_for("merchant.dashboard"))
                response.set_cookie(DEVICE_COOKIE, devices().dumps(device or secrets.token_urlsafe(16)), max_age=DEVICE_DAYS * 86400,
                                    secure=True, httponly=True, samesite="Strict", path="/merchant")
                return response
            for limit, key in limits:
                limit.hit(key)
            wrong = True
        session.setdefault("login_csrf", secrets.token_urlsafe(32))
        return page("login.html", 401 if wrong else 200, csrf=session["login_csrf"], wrong=wrong)

    @merchant.post("/logout")
    def logout():
        end_session(store, session["sid"])
        session.clear()
        return redirect(url_for("merchant.login"))

    @merchant.get("/")
    def dashboard():
        lang = asked_language()
        as_of = today()
        made = report.gather(store, as_of)
        body = Markup(report_html.render(made, lang, standalone=False, stage_labels=settings.stage_labels))
        return page("dashboard.html", report_body=body, work=_work(store, settings, as_of, lang),
                    asks=_asks(store, lang), orders=_orders(made.rows, lang, stage_words(lang, settings.stage_labels)),
                    choices=decisions.DECISIONS, letters=_letters(settings, store, lang))

    @merchant.get("/copies/<path:order_id>")
    def copy_to_post(order_id: str):
        try:
            made = reprint.copy(store, order_id, today(), *printed.of_settings(settings))
        except InputError as exc:
            return page("message.html", 404, text=str(exc))
        return send_file(io.BytesIO(made.pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=f"letter-{safe_name(order_id)}-{made.reminder_id}.pdf", max_age=0)

    @merchant.get("/letters/<campaign>/<name>")
    def letters_file(campaign: str, name: str):
        folders = _letter_folders(settings, store)
        if campaign not in folders or not PRINT_FILE.fullmatch(name) or not (folders[campaign] / name).is_file():
            abort(404)
        return send_file(folders[campaign] / name, mimetype="application/pdf", as_attachment=True,
                         download_name=f"{campaign}-{name}", max_age=0)

    @merchant.get("/orders/<path:order_id>")
    def order(order_id: str):
        lang = asked_language()
        told = history.of_order(store, order_id, today())
        if told is None:
            abort(404)
        events = _events(told.events, told.currency, TEXTS[lang], lang, stage_words(lang, settings.stage_labels))
        return page("order.html", order_id=order_id, email=told.email, events=events, choices=decisions.DECISIONS)

    @merchant.get("/customers/<path:email>")
    def customer(email: str):
        lang = asked_language()
        account = history.of_customer(store, email, today())
        if account is None:
            abort(404)
        t, stages = TEXTS[lang], stage_words(lang, settings.stage_labels)
        orders = [{"order_id": h.order_id, "owed_now": format_amount(h.owed["owed_now"], h.currency, lang),
                   "later": format_amount(h.owed["later_open"], h.currency, lang), "paid": format_amount(h.owed["paid"], h.currency, lang)}
                  for h in account.orders]
        events = [dict(event, order_id=h.order_id) for h in account.orders
                  for event in _events(h.events, h.currency, t, lang, stages)]
        events.sort(key=lambda e: e["when"])
        owed = [format_amount(amount, currency, lang) for currency, amount in sorted(account.owed_now.items())]
        return page("customer.html", email=account.email, orders=orders, events=events, owed=owed)

    @merchant.post("/orders/<path:order_id>/decide")
    def decide(order_id: str):
        amount, currency = actions.open_amount(store, order_id, today())
        if not currency:
            abort(404)
        decision, note = request.form.get("decision", ""), request.form.get("note", "")[:500]
        try:
            if decision == cancelling.CANCELLED:  # as `dunning actions cancel`: the shop's file, the call to its URL
                cancelling.carry_out(store, [order_id], today(), profile=profiles.load(settings.section("input").get(
                    "profile", "generic")), file=settings.exports_dir / f"cancelled-{today().isoformat()}.csv",
                    url=settings.shop.get("cancel_url", ""), secret=env.get(cancelling.SECRET_VARIABLE, ""), note=note)
            else:
                decisions.decide(store, order_id, decision, amount, currency, today(), note)
        except InputError:
            abort(400)
        except cancelling.ShopRefused as exc:
            return page("message.html", 502, text=TEXTS[language]["shop_refused"].format(reason=str(exc)))
        return redirect(url_for("merchant.order", order_id=order_id), code=303)

    @merchant.post("/requests/<int:request_id>/done")
    def request_done(request_id: int):
        if request_id > 2**31 - 1:
            abort(404)
        try:
            decisions.request_done(store, request_id)
        except InputError:
            abort(404)
        return redirect(url_for("merchant.dashboard"), code=303)

    @merchant.after_request
    def merchant_headers(response):
        response.headers["Content-Security-Policy"] = MERCHANT_CSP
        return response

    return merchant


def configure(app, signing_keys: list[str]) -> None:
    """Sessions for the dashboard: signed cookies that only travel over HTTPS, never to scripts or other sites, and are
    not renewed by using them (the session in the store ends at a fixed time)."""
    app.secret_key = session_key(signing_keys)
    app.config.update(SESSION_COOKIE_NAME="dunning_merchant", SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
                      SESSION_REFRESH_EACH_REQUEST=False)


def merchant_key() -> bytes:
    from flask import current_app

    return current_app.secret_key


def _same(given: str | None, expected: str | None) -> bool:
    """A CSRF token that is there and equal (an empty one never matches)."""
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


def _device(devices: URLSafeTimedSerializer, cookie: str) -> str:
    """The browser's own id, when it signed in before (a cookie we signed, at most DEVICE_DAYS old), else ""."""
    try:
        return str(devices.loads(cookie, max_age=DEVICE_DAYS * 86400)) if cookie else ""
    except BadSignature:
        return ""


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _day(value, lang: str) -> str:
    """A date as people in the language write it (5 Dec 2026, 05.12.2026); "" for none."""
    return "" if value is None or pd.isna(value) else format_date(pd.Timestamp(value).date(), format="medium", locale=lang)


def _work(store: Store, settings: config.Settings, as_of: date, lang: str) -> list[dict]:
    """The work list in the language: amounts, dates and stages as people there write them."""
    stages = stage_words(lang, settings.stage_labels)

    def reminded(text: str) -> str:  # "friendly 2026-11-01, final 2026-11-20" as the work list writes it
        pairs = [part.rpartition(" ") for part in text.split(", ") if part]
        return ", ".join(f"{stages.get(stage, stage)} {_day(day, lang)}" for stage, _, day in pairs)

    return [item | {"final_sent_on": _day(item["final_sent_on"] or None, lang), "reminders": reminded(item["reminders"]),
                    "open_amount": format_amount(from_decimal(item["open_amount"], item["currency"]), item["currency"], lang)}
            for item in actions.work_list(store, settings.policy, as_of).to_dict("records")]


def _letter_folders(settings: config.Settings, store: Store) -> dict[str, Path]:
    """Each campaign on the letters channel (its file, or the one the store holds) and the folder it writes to."""
    folders = {}
    for row in campaigns.listed(settings, store):
        if row["channel"] == "letters":
            try:
                folders[row["campaign"]] = folder_of(campaigns.load(row["campaign"], settings), settings.root)
            except InputError:  # its file is gone or broken: where it wrote by default
                folders[row["campaign"]] = settings.root / "letters" / row["campaign"]
    return folders


def _letters(settings: config.Settings, store: Store, lang: str) -> list[dict]:
    """The files to print of every letters campaign: campaign, file name, the day it was written."""
    return [{"campaign": name, "file": path.name, "written": _day(date.fromtimestamp(path.stat().st_mtime), lang)}
            for name, folder in _letter_folders(settings, store).items() for path in to_print(folder)]


def _asks(store: Store, lang: str) -> list[dict]:
    """The customers' open requests with their dates in the language."""
    return [ask | {"requested_on": _day(ask["requested_at"], lang)} for ask in decisions.requests(store).to_dict("records")]


def _orders(rows: pd.DataFrame, lang: str, stages: dict[str, str]) -> list[dict]:
    """The reminded orders, newest reminder first: what is still open, the last stage and date."""
    if rows.empty:
        return []
    latest = rows.sort_values("as_of", kind="stable").drop_duplicates("order_id", keep="last")
    latest = latest.sort_values(["as_of", "order_id"], ascending=[False, True]).head(500)
    return [{"order_id": r.order_id, "stage": stages.get(r.stage, r.stage), "reminded_on": _day(r.as_of, lang),
             "open": format_amount(int(r.still_open), r.currency, lang), "closed_as": r.closed_as} for r in latest.itertuples()]


def _events(told: pd.DataFrame, currency: str, t: dict, lang: str, stages: dict[str, str]) -> list[dict]:
    """What happened to one order, oldest first (its journal history), in the merchant's words and dates."""
    events = []
    for e in told.itertuples():
        if e.event == "reminder" and e.status == "sent":
            stage, _, about = e.what.partition(" ")
            events.append((e.when, t["reminder_sent"].format(stage=stages.get(stage, stage)) + (f" {about}" if about else "")))
        elif e.event == "visit":
            events.append((e.when, t["visited"]))
        elif e.event == "movement":
            events.append((e.when, t["payment_in"].format(amount=format_amount(int(e.amount), e.currency or currency, lang),
                                                          source=e.source)))
        elif e.event == "request":
            events.append((e.when, t["request_in"].format(wanted=t.get(e.what, e.what)) + (f": {e.note}" if e.note else "")))
        elif e.event == "decision":
            events.append((e.when, t["decided"].format(decision=t.get(e.what, e.what))))
    return [{"when": when.isoformat(), "day": _day(when, lang), "what": what} for when, what in events]
