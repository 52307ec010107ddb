"""The customer's manage page: a signed link opens that order, and nothing else.

GET  /m/<token>           the order, what is open, how to pay (link, bank transfer with EPC QR code)
POST /m/<token>/method    a request to change the payment method, recorded for the merchant
POST /webhooks/payments   a payment reported by the provider, HMAC-signed, stored once by payment id
/merchant/...             the merchant's dashboard behind a login (dunning.web.merchant)
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace

import pandas as pd
import sqlalchemy as sa
from flask import Flask, abort, jsonify, make_response, redirect, render_template, request
from markupsafe import escape

from dunning import bank, config, manage, tokens
from dunning.errors import InputError
from dunning.journal import matcher, recording, rules
from dunning.journal.pages import first_sighting
from dunning.journal.store import Store
from dunning.journal.tables import orders
from dunning.web import merchant, webhook
from dunning.web.order_page import shown_page
from dunning.web.security import Limiter, TrustedProxies, mask_tokens_in, secure_headers
from dunning.web.texts import LANGUAGES, METHOD_NAMES, METHODS, TEXTS
from dunning.web.visits import VisitLog


# templates read t.key as a plain attribute, escaped once here (Markup's format escapes what it fills in)
WORDS = {lang: SimpleNamespace(**{key: escape(text) for key, text in texts.items()}, title_before=escape(texts["title"].split("{order}")[0]),
                               title_after=escape(texts["title"].split("{order}")[1])) for lang, texts in TEXTS.items()}
METHOD_CHOICES = {lang: [(method, METHOD_NAMES[lang][method]) for method in METHODS] for lang in LANGUAGES}


def create_app(settings: config.Settings | None = None, *, store: Store | None = None, environ: dict | None = None,
               today: Callable[[], date] = date.today, limiter: Limiter | None = None) -> Flask:
    """The Flask app for a workspace's settings and store; bank details are checked here, at start."""
    settings = settings or config.load()
    env = os.environ if environ is None else environ
    keys = tokens.keys_from_env(env)
    store = store or settings.store()
    signer = settings.signer(keys)
    shop = settings.section("shop")
    payment = settings.section("payment")
    accounts = bank.accounts(payment, default_beneficiary=str(shop.get("name", "")))
    fallback = settings.fallback_language if settings.fallback_language in LANGUAGES else "en"
    change_form = bool(payment.get("change_method_requests", True))
    limiter = limiter or Limiter(store)
    form_limit = Limiter(store, limit=5, window=3600)
    mask_tokens_in("werkzeug", "gunicorn.access", "gunicorn.error")

    app = Flask(__name__)
    proxies = settings.section("web").get("trusted_proxies", 0)
    if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= 10:
        raise InputError("[web] trusted_proxies must be the number of proxies in front of the server, 0 to 10")
    if proxies:  # the client's address is the one the trusted proxies saw (X-Forwarded-For), not theirs
        app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)
    mask_tokens_in(app.logger.name)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["dunning.store"] = store
    flush_every = settings.section("web").get("visit_flush_seconds", 1.0)
    if isinstance(flush_every, bool) or not isinstance(flush_every, (int, float)) or flush_every < 0:
        raise InputError("[web] visit_flush_seconds must be a number of seconds, 0 or more")
    visits = app.extensions["dunning.visits"] = VisitLog(store, flush_every)
    merchant.configure(app, keys)
    app.register_blueprint(merchant.blueprint(settings, store, env, today))

    def language(preferred: str = "") -> str:
        asked = request.args.get("lang") or (request.form.get("lang") if request.method == "POST" else "") or ""
        if asked in LANGUAGES:
            return asked
        if preferred in LANGUAGES:
            return preferred
        return request.accept_languages.best_match(LANGUAGES) or fallback

    def page(template: str, status: int = 200, lang: str = "", **context):
        lang = lang or language()
        return render_template(template, lang=lang, t=WORDS[lang], shop_name=shop.get("name", ""),
                               shop_contact=shop.get("contact", ""), shop_address=shop.get("address", ""),
                               languages=LANGUAGES, **context), status

    def message(status: int, key: str):
        lang = language()
        texts = TEXTS[lang]
        text = texts[key].format(contact=shop.get("contact", ""))
        return page("message.html", status, lang, heading=texts[f"{key}_title"], text=text, switch=False)

    def opened(token: str) -> manage.OrderView:
        """The order a token opens; otherwise a neutral 404, a 410 for an expired link, 429 when a client sent
        too many invalid tokens. A valid token is never limited (behind a proxy, customers share addresses)."""
        try:
            order_id = signer.verify(token)
        except tokens.TokenExpired:
            abort(410)
        except tokens.TokenError:
            client = f"client:{request.remote_addr or 'unknown'}"
            if limiter.blocked(client):
                abort(429)
            limiter.hit(client)
            abort(404)
        order = manage.view(store, order_id, today())
        if order is None:
            abort(404)
        return order

    @app.get("/m/<token>")
    def order_page(token: str):
        order = opened(token)
        lang = language(order.language)
        shown = shown_page(order, lang, link=payment.get("link", ""), accounts=accounts, stages=settings.policy.stages)
        response = make_response(page(
            "order.html", 200, lang, page=shown, token=token, switch=True,
            change_form=change_form and not order.settled, methods=METHOD_CHOICES[lang],
            requested=request.args.get("requested") == "1"))
        response.call_on_close(lambda: visits.add(order.order_id))  # once the page is sent, not before
        return response

    @app.post("/m/<token>/method")
    def change_method(token: str):
        order = opened(token)
        wanted = request.form.get("wanted", "")
        if wanted not in METHODS:
            abort(400)
        if form_limit.blocked(f"method:{order.order_id}"):
            abort(429)
        form_limit.hit(f"method:{order.order_id}")
        store.add_method_request(order.order_id, wanted, request.form.get("message", "")[:1000])
        return redirect(f"../{token}?lang={language(order.language)}&requested=1", code=303)

    @app.post("/webhooks/payments")
    def payment_webhook():
        secret = env.get(webhook.SECRET_VARIABLE, "")
        if not secret:
            return jsonify(error="the payment webhook is not configured"), 503
        body = request.get_data(cache=False)
        try:
            signature = webhook.verify(secret, request.headers.get(webhook.TIMESTAMP_HEADER),
                                       request.headers.get(webhook.SIGNATURE_HEADER), body)
        except webhook.Rejected as exc:
            return jsonify(error=exc.reason), exc.status
        try:
            paid = webhook.reported(json.loads(body), today())
        except ValueError as exc:
            return jsonify(error=f"not a payment: {exc}"), 422
        try:
            with store.writing() as db:  # the signature and the payment in one transaction: a failure keeps neither
                if not first_sighting(db, signature):
                    return jsonify(error="this request was seen before (replay)"), 409
                outcome = _record(db, store, paid, today(), settings.match_window_days)
        except ValueError as exc:
            return jsonify(error=f"not a payment: {exc}"), 422
        if outcome is None:
            return jsonify(status="already recorded", flag=""), 200
        return jsonify(status="recorded", flag=outcome), 201

    @app.errorhandler(404)
    def missing(_):
        return message(404, "missing")

    @app.errorhandler(410)
    def gone(_):
        return message(410, "gone")

    @app.errorhandler(429)
    def limited(_):
        return message(429, "limited")

    @app.after_request
    def headers(response):
        return secure_headers(response, request.is_secure)

    return app


def _record(db, store: Store, paid: webhook.Reported, today: date, window: int) -> str | None:
    """A webhook's payment through the same rules and matcher as a payments file, in the caller's transaction; what
    became of it: "" counted, "overpayment", "unmatched", "review", or None when this payment id was recorded before.
    ValueError when the payment rules refuse it (another currency than the order's, a date in the future)."""
    currency = db.execute(sa.select(orders.c.currency).where(orders.c.order_id == paid.order_id)).scalar()
    candidate = pd.DataFrame([{"order_id": paid.order_id, "paid_at": paid.paid_at, "amount": paid.amount, "currency": paid.currency,
                               "payment_id": paid.payment_id, "kind": paid.kind, "row": 0}])
    observed, refused = rules.observed(candidate, pd.Series({paid.order_id: currency} if currency else {}, dtype=object), today,
                                       source="webhook", origin="webhook", file="webhook")
    if len(refused):
        raise ValueError(str(refused["reason"].iat[0]))
    written = recording.write(store, recording.Arrival(as_of=today, origin="webhook", observations=observed, window=window), db=db)
    mine = (written.incoming["source"] == "webhook").to_numpy()
    if not mine.any():
        return None
    status, note = written.matched.status[mine].iat[0], written.matched.note[mine].iat[0]
    return "overpayment" if note.startswith("overpayment") else "" if status == matcher.COUNTED else status
