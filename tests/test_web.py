"""The manage page through Flask's test client: every route and status, the security suite, the webhook."""
import io
import json
import re
import logging
import shutil
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from dunning import bank, campaigns, config, manage
from dunning.errors import InputError
from dunning.journal import decisions
from dunning.journal.store import Store
from dunning.tokens import TokenSigner
from dunning.web import create_app, webhook
from dunning.web.security import Limiter, MaskTokens
from tests.conftest import reference_of, allow_skipping_stages, moved, observed

KEY = "web-test-key-0123456789-0123456789ab"
SECRET = "webhook-secret-0123456789"
TODAY = date(2026, 11, 22)


@pytest.fixture
def shop(tmp_path, examples, monkeypatch):
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    config.init(tmp_path)
    allow_skipping_stages(tmp_path)
    shutil.copytree(examples, tmp_path / "examples")
    settings_file = tmp_path / "dunning.toml"
    settings_file.write_text(settings_file.read_text().replace("[payment]\n", '[payment]\nlink = "https://pay.example/checkout?amount={amount}&currency={currency}&ref={reference}"\n'
                             'beneficiary = "Beispiel GmbH"\niban = "DE89 3704 0044 0532 0130 00"\nbic = "COBADEFFXXX"\n'))
    (tmp_path / "campaigns" / "final.toml").write_text(
        'stage = "final"\n[input]\nfile = "../examples/plans.csv"\npayments = "../examples/payments.csv"\n'
        '[sender]\nfrom = "Beispiel GmbH <billing@shop.example>"\n')
    settings = config.load(cwd=tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'dunning.sqlite3'}")
    campaigns.prepare(campaigns.load("final", settings), settings, store, date(2026, 11, 20), [KEY])
    return settings, store


def app_for(shop, limiter=None, **environ):
    settings, store = shop
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET} | environ
    return create_app(settings, store=store, environ=env, today=lambda: TODAY, limiter=limiter).test_client()


def token(order_id="P-2001", **kw):
    return TokenSigner([KEY], **kw).sign(order_id)


def test_the_page_shows_this_order_per_installment_in_the_customers_language(shop):
    reference = reference_of(shop[1], "P-2001")
    assert reference.startswith("RF") and "P2001" in reference
    page = app_for(shop).get(f"/m/{token()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="nl">' in html and "Uw bestelling P-2001" in html and "Cursus Marketing" in html
    assert len(installment_rows(html)) == 6 and "€\xa049,00" in html
    assert 'id="open-now">€\xa0247,00<' in html
    assert reference in html and "DE89 3704 0044 0532 0130 00" in without_tags(html) and "<svg" in html
    assert '<span class="group">0532</span>' in html  # the IBAN breaks between its groups, never inside one
    assert f"https://pay.example/checkout?amount=247.00&amp;currency=EUR&amp;ref={reference}" in html
    assert "Noor" in html and "Hans" not in html and "P-2002" not in html
    german = app_for(shop).get(f"/m/{token()}?lang=de").get_data(as_text=True)
    assert '<html lang="de">' in german and "Ihre Bestellung P-2001" in german and "247,00\xa0€" in german


def test_security_headers(shop):
    response = app_for(shop).get(f"/m/{token()}")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers
    secure = app_for(shop).get(f"/m/{token()}", base_url="https://shop.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "<script" not in response.get_data(as_text=True)


@pytest.mark.parametrize("bad", [
    lambda: token()[:-12] + ("A" if token()[-12] != "A" else "B") + token()[-11:],
    lambda: token()[: len(token()) // 2],
    lambda: TokenSigner(["another-shops-key"]).sign("P-2001"),
    lambda: TokenSigner([KEY], purpose="unsubscribe").sign("P-2001"),
    lambda: token("NOT-RECORDED"),
    lambda: "x",
])
def test_bad_tampered_foreign_and_unknown_tokens_get_one_neutral_404(shop, bad):
    response = app_for(shop).get(f"/m/{bad()}")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and "Link" in html
    assert "P-2001" not in html and "NOT-RECORDED" not in html and "Noor" not in html


def test_an_expired_link_is_410_and_says_how_to_get_a_fresh_one(shop):
    old = TokenSigner([KEY]).sign("P-2001", issued_at=datetime.now(timezone.utc) - timedelta(days=60))
    response = app_for(shop).get(f"/m/{old}", headers={"Accept-Language": "de"})
    html = response.get_data(as_text=True)
    assert response.status_code == 410 and "abgelaufen" in html and "billing@shop.example" in html and "P-2001" not in html


def test_invalid_attempts_are_rate_limited_per_client_and_valid_links_never(shop):
    settings, store = shop
    client = app_for(shop, limiter=Limiter(store, limit=3, window=60))
    assert [client.get("/m/nope").status_code for _ in range(3)] == [404, 404, 404]
    assert client.get("/m/nope").status_code == 429
    assert client.get(f"/m/{token()}").status_code == 200  # a customer behind the same address still gets in
    other = client.get("/m/nope", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 404
    another_worker = app_for(shop, limiter=Limiter(store, limit=3, window=60))  # the counts live in the store
    assert another_worker.get("/m/nope").status_code == 429


def test_a_limit_does_not_reset_when_the_minute_turns(shop):
    _, store = shop
    now = [1_800_000_059.0]  # one second before a minute turns
    limiter = Limiter(store, limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        limiter.hit("k")
    now[0] += 2
    assert limiter.blocked("k")  # the hits of the minute before still count
    now[0] += 120
    assert not limiter.blocked("k")  # two minutes later they have gone


def test_behind_a_trusted_proxy_each_customer_is_counted_apart(shop):
    settings, store = shop
    proxied = config.Settings({**settings.data, "web": {"trusted_proxies": 1}}, settings.root, settings.source)
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET}
    client = create_app(proxied, store=store, environ=env, today=lambda: TODAY,
                        limiter=Limiter(store, limit=2, window=60)).test_client()
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    assert [client.get("/m/nope", headers=attacker).status_code for _ in range(3)] == [404, 404, 429]
    assert client.get("/m/nope", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 404


def test_the_change_of_method_form_is_limited_per_order(shop):
    client = app_for(shop)
    answers = [client.post(f"/m/{token()}/method", data={"wanted": "bank_transfer"}).status_code for _ in range(6)]
    assert answers == [303] * 5 + [429]


def test_visits_are_recorded_without_the_address_in_batches_after_the_page_is_sent(shop):
    settings, store = shop
    settings.data.setdefault("web", {})["visit_flush_seconds"] = 600  # no timer flush during the test
    client = app_for(shop)
    for _ in range(2):
        client.get(f"/m/{token()}").close()  # the server closes the response once it is sent
    assert len(store.visits_frame("P-2001")) == 0  # waiting for the next batch (every visit_flush_seconds)
    client.application.extensions["dunning.visits"].flush()  # as the timer, or gunicorn's worker_exit, does
    assert len(store.visits_frame("P-2001")) == 2
    settings.data["web"]["visit_flush_seconds"] = 0
    app_for(shop).get(f"/m/{token()}").close()
    assert len(store.visits_frame("P-2001")) == 3  # 0: each visit written at once
    settings.data["web"]["visit_flush_seconds"] = "soon"
    with pytest.raises(InputError, match="visit_flush_seconds must be a number of seconds"):
        app_for(shop)
    import sqlalchemy as sa

    from dunning.journal.tables import visits

    assert [c.name for c in visits.columns] == ["id", "order_id", "visited_at"]
    assert len(store.visits_frame("P-2002")) == 0 and sa is not None


def test_a_request_to_change_the_payment_method_is_recorded(shop):
    settings, store = shop
    client = app_for(shop)
    response = client.post(f"/m/{token()}/method", data={"wanted": "sepa_debit", "message": "Bitte abbuchen", "lang": "de"})
    assert response.status_code == 303 and response.headers["Location"].endswith("?lang=de&requested=1")
    assert [(r.wanted, r.message) for r in decisions.requests(store, open_only=False).itertuples() if r.order_id == "P-2001"] == [("sepa_debit", "Bitte abbuchen")]
    assert "Wir haben Ihre Anfrage erhalten" in client.get(f"/m/{token()}?lang=de&requested=1").get_data(as_text=True)
    assert client.post(f"/m/{token()}/method", data={"wanted": "cash"}).status_code == 400
    assert client.post("/m/bad/method", data={"wanted": "card"}).status_code == 404


def post_payment(client, body: dict, timestamp=None, secret=SECRET, signature=None):
    raw = json.dumps(body).encode()
    stamp = int(timestamp if timestamp is not None else time.time())
    return client.post("/webhooks/payments", data=raw, content_type="application/json", headers={
        webhook.TIMESTAMP_HEADER: str(stamp), webhook.SIGNATURE_HEADER: signature or webhook.sign(secret, stamp, raw)})


def test_a_signed_payment_is_stored_once_and_the_page_then_shows_it_paid(shop):
    settings, store = shop
    client = app_for(shop)
    body = {"payment_id": "pi_123", "order_id": "P-2001", "amount": "247.00", "currency": "EUR", "paid_at": "2026-11-21"}
    first = post_payment(client, body)
    assert first.status_code == 201 and first.get_json()["status"] == "recorded"
    again = post_payment(client, body, timestamp=time.time() + 1)
    assert again.status_code == 200 and again.get_json()["status"] == "already recorded"
    page = client.get(f"/m/{token()}?lang=en").get_data(as_text=True)
    assert 'id="status">Thank you: nothing is open' in page and 'id="paid-since">€247.00<' in page
    assert "How to pay" not in page
    paid = moved(store).query("order_id == 'P-2001'")
    assert list(paid.loc[paid["paid_at"] > "2026-11-01", "source"]) == ["webhook"]


def test_webhook_security(shop):
    client = app_for(shop)
    body = {"payment_id": "pi_9", "order_id": "P-2003", "amount": "10.00", "currency": "EUR"}
    assert post_payment(client, body, secret="wrong").status_code == 401
    assert post_payment(client, body, timestamp=time.time() - 3600).status_code == 400
    raw = json.dumps(body).encode()
    stamp = int(time.time())
    headers = {webhook.TIMESTAMP_HEADER: str(stamp), webhook.SIGNATURE_HEADER: webhook.sign(SECRET, stamp, raw)}
    assert client.post("/webhooks/payments", data=raw, headers=headers).status_code == 201
    assert client.post("/webhooks/payments", data=raw, headers=headers).status_code == 409
    assert client.post("/webhooks/payments", data=raw).status_code == 401
    assert app_for(shop, DUNNING_WEBHOOK_SECRET="").post("/webhooks/payments", data=raw, headers=headers).status_code == 503


@pytest.mark.parametrize(("body", "message"), [
    ({"payment_id": "a", "order_id": "P-2003", "amount": "10.00", "currency": "USD"}, "differs from the order's EUR"),
    ({"payment_id": "b", "order_id": "P-2003", "amount": "10.00", "currency": "EUR", "paid_at": "2027-01-01"}, "future"),
    ({"payment_id": "c", "order_id": "P-2003", "amount": "ten", "currency": "EUR"}, "not an amount"),
    ({"order_id": "P-2003", "amount": "10.00", "currency": "EUR"}, "payment_id"),
])
def test_webhook_refuses_what_is_not_a_payment(shop, body, message):
    response = post_payment(app_for(shop), body)
    assert response.status_code == 422 and message in response.get_json()["error"]


def test_a_payment_above_what_is_open_is_flagged_as_an_overpayment(shop):
    client = app_for(shop)
    exact = post_payment(client, {"payment_id": "o1", "order_id": "P-2003", "amount": "240.00", "currency": "EUR"})
    assert exact.status_code == 201 and exact.get_json()["flag"] == ""
    more = post_payment(client, {"payment_id": "o2", "order_id": "P-2003", "amount": "0.01", "currency": "EUR"})
    assert more.status_code == 201 and more.get_json()["flag"] == "overpayment"


def test_a_payment_for_an_unknown_order_is_kept_until_the_order_arrives(shop):
    settings, store = shop
    response = post_payment(app_for(shop), {"payment_id": "u1", "order_id": "ZZZ", "amount": "5.00", "currency": "EUR"})
    assert response.status_code == 201 and response.get_json()["flag"] == "unmatched"


def test_tokens_never_reach_the_logs():
    stream = io.StringIO()
    logger = logging.getLogger("gunicorn.access.test")
    logger.addHandler(logging.StreamHandler(stream))
    logger.addFilter(MaskTokens())
    logger.setLevel(logging.INFO)
    logger.info('%(h)s "%(r)s" %(s)s', {"h": "127.0.0.1", "r": "GET /m/UC0y.awLc.Vvh3X?lang=de HTTP/1.1", "s": "200"})
    logger.info('"%s %s %s" %s', "GET", "/m/UC0y.awLc.Vvh3X", "HTTP/1.1", 200)
    text = stream.getvalue()
    assert "UC0y" not in text and text.count("/m/[token]") == 2


def test_bank_details_are_checked():
    assert bank.normalise_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    with pytest.raises(InputError, match="not a valid IBAN"):
        bank.normalise_iban("DE89 3704 0044 0532 0130 01")
    assert bank.check_bic("cobadeffxxx") == "COBADEFFXXX"
    with pytest.raises(InputError, match="not a valid BIC"):
        bank.check_bic("COBA1")
    assert bank.is_creditor_reference("RF18 5390 0754 7034") and not bank.is_creditor_reference("RF19 5390 0754 7034")
    for key, order_id in enumerate(("E-10421", "#1001", "wcs-2", "Bestellung 42 ü", "x" * 40, "")):
        assert bank.is_creditor_reference(bank.creditor_reference(order_id, key))
    similar = {bank.creditor_reference(o, k) for k, o in enumerate(("P-2003", "P2003", "p_2003", "P.2003"))}
    assert len(similar) == 4 and bank.creditor_reference("P-2003", 7) == bank.creditor_reference("P-2003", 7)
    alike = [f"{n}-SUBSCRIPTION-RENEWAL-DE" for n in range(5000)]  # ids that end alike: the earlier form shared some
    assert len({bank.creditor_reference(o, k) for k, o in enumerate(alike)}) == 5000
    assert len({bank.earlier_creditor_reference(o) for o in alike}) < 5000


def test_a_wrong_iban_stops_the_page_at_start(shop):
    settings, store = shop
    settings.data["payment"]["iban"] = "DE00 0000"
    with pytest.raises(InputError, match="not a valid IBAN"):
        create_app(settings, store=store, environ={"DUNNING_SECRET_KEYS": KEY})


@pytest.mark.parametrize(("body", "message"), [
    ({"payment_id": "p1", "order_id": "P-2001", "amount": 10**20, "currency": "EUR"}, "below 10^15"),
    ({"payment_id": "p2", "order_id": "P-2001", "amount": "1.00", "currency": "EURO"}, "currency"),
    ({"payment_id": "p3", "order_id": "X" * 500, "amount": "1.00", "currency": "EUR"}, "order_id is longer than 200"),
    ({"payment_id": "p" * 2000, "order_id": "P-2001", "amount": "1.00", "currency": "EUR"}, "payment_id is longer"),
    ({"payment_id": "p5", "order_id": None, "amount": "1.00", "currency": "EUR"}, "order_id is required"),
    ({"payment_id": "p6", "order_id": "P-2001", "currency": "EUR"}, "amount is required"),
    ({"payment_id": "p7", "order_id": "P-2001", "amount": "1.234", "currency": "EUR"}, "not an amount in EUR"),
    ({"payment_id": "p8", "order_id": "P-2001", "amount": "1.00", "currency": "EUR", "paid_at": "soon"}, "not a date"),
    (["not", "an", "object"], "JSON object"),
])
def test_webhook_checks_every_field_and_answers_422(shop, body, message):
    settings, store = shop
    before = len(observed(store))
    response = post_payment(app_for(shop), body)
    assert response.status_code == 422 and message in response.get_json()["error"]
    assert len(observed(store)) == before


def test_a_failing_page_logs_no_token(shop, monkeypatch, caplog):
    settings, store = shop
    client = app_for(shop)
    monkeypatch.setattr(manage, "view", lambda store, order_id, today: (_ for _ in ()).throw(RuntimeError(f"lookup failed for {order_id}")))
    signed = token()
    with caplog.at_level(logging.ERROR):
        assert client.get(f"/m/{signed}/ ").status_code == 404
        assert client.get(f"/m/{signed}").status_code == 500
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "Exception on /m/[token] [GET]" in logged and signed not in logged and signed[:20] not in logged


def test_tokens_followed_by_a_space_or_a_slash_are_masked():
    from dunning.web.security import _mask

    signed = token()
    assert signed not in _mask(f"GET /m/{signed} HTTP/1.1") and signed not in _mask(f"POST /m/{signed}/method")
    assert signed not in _mask(f"token={signed} failed") and _mask("/m/abc/method") == "/m/[token]/method"


@pytest.mark.parametrize(("accept", "lang"), [("de-DE,de;q=0.9", "de"), ("fr", "fr"), ("nl-BE", "nl"), ("it", "en")])
def test_the_404_and_410_pages_speak_the_browsers_language(shop, accept, lang):
    client = app_for(shop)
    missing = client.get("/m/not-a-token", headers={"Accept-Language": accept})
    old = TokenSigner([KEY]).sign("P-2001", datetime.now(timezone.utc) - timedelta(days=60))
    expired = client.get(f"/m/{old}", headers={"Accept-Language": accept})
    assert (missing.status_code, expired.status_code) == (404, 410)
    assert f'<html lang="{lang}">' in missing.get_data(as_text=True) and f'<html lang="{lang}">' in expired.get_data(as_text=True)


def test_an_order_id_with_quotes_is_a_value_never_sql(shop):
    settings, store = shop
    body = {"payment_id": "q1", "order_id": "O'Brien-1\\'; DROP TABLE payments; --", "amount": "1.00", "currency": "EUR"}
    response = post_payment(app_for(shop), body)
    assert response.status_code == 201 and response.get_json()["flag"] == "unmatched"
    assert body["order_id"] in set(observed(store)["order_id"])


def test_a_settled_order_offers_no_change_of_method_and_french_is_typeset(shop):
    client = app_for(shop)
    open_page = client.get(f"/m/{token()}?lang=fr").get_data(as_text=True)
    assert 'action="' in open_page and "Des questions\u202f?" in open_page
    assert "Produit\u202f: <strong>" in open_page and "Produit :" not in open_page
    assert "Product: <strong>" in client.get(f"/m/{token()}?lang=en").get_data(as_text=True)
    body = {"payment_id": "all", "order_id": "P-2001", "amount": "247.00", "currency": "EUR", "paid_at": "2026-11-21"}
    assert post_payment(client, body).status_code == 201
    settled = client.get(f"/m/{token()}?lang=fr").get_data(as_text=True)
    assert 'name="wanted"' not in settled


def test_a_transfer_is_offered_only_into_an_account_in_the_orders_currency(shop):
    settings, store = shop
    client = app_for(shop)
    euro = client.get(f"/m/{token('P-2001')}?lang=en").get_data(as_text=True)
    pounds = client.get(f"/m/{token('P-2004')}?lang=en").get_data(as_text=True)
    assert "DE89 3704 0044 0532 0130 00" in without_tags(euro) and "DE89" not in pounds
    with_gbp = config.Settings({**settings.data, "payment": {**settings.section("payment"), "accounts": {
        "GBP": {"iban": "GB33BUKB20201555555555", "bic": "BUKBGB22", "beneficiary": "Example Ltd"}}}}, settings.root, settings.source)
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET}
    page = create_app(with_gbp, store=store, environ=env, today=lambda: TODAY).test_client().get(f"/m/{token('P-2004')}")
    html = page.get_data(as_text=True)
    assert "GB33 BUKB 2020 1555 5555 55" in without_tags(html) and "Example Ltd" in html and "DE89" not in html


def test_the_shops_legal_address_stands_under_the_page_and_the_reminders(shop):
    settings, store = shop
    address = "Beispiel GmbH, Musterstraße 1, 10115 Berlin, HRB 12345"
    with_address = config.Settings({**settings.data, "shop": {**settings.shop, "address": address}}, settings.root, settings.source)
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET}
    page = create_app(with_address, store=store, environ=env, today=lambda: TODAY).test_client().get(f"/m/{token()}")
    assert address in page.get_data(as_text=True)
    from dunning.mailmerge import context as template_context
    from dunning.mailmerge import TEMPLATE_VARIABLES

    fields = {key: "x" for key in TEMPLATE_VARIABLES}
    message = with_address.templates().render("final", "de", template_context(
        fields, language="de", stage=None, stage_name="final", shop_name="Beispiel GmbH", shop_contact="a@b.c",
        asked=frozenset(), reminders_sent=2, shop_address=address))
    assert message.text.rstrip().endswith(address) and address in message.html


def installment_rows(html: str) -> list[tuple[str, ...]]:
    """The installment table's rows as (due, amount, paid, open) texts."""
    money = r'<td class="money" data-label="[^"]*">([^<]*)</td>'
    return re.findall(r'<tr><td class="due">([^<]*)</td>' + money * 3 + '</tr>', html)


def without_tags(html: str) -> str:
    """The page's text as a reader sees it (tags removed)."""
    return re.sub(r"<[^>]+>", "", html)


def test_every_figure_on_the_page_comes_from_one_computation(shop):
    client = app_for(shop)
    yen = client.get(f"/m/{token('P-2005')}?lang=en").get_data(as_text=True)
    rows = installment_rows(yen)
    open_now = re.search(r'id="open-now">([^<]*)<', yen).group(1)
    later = re.search(r"<p>Due later: ([^<]*)</p>", yen)
    assert len(rows) == 5 and open_now != "¥0"
    open_cells = sum(int(cell.strip("¥").replace(",", "")) for *_, cell in rows)
    assert open_cells == int(open_now.strip("¥").replace(",", "")) + (int(later.group(1).strip("¥").replace(",", "")) if later else 0)
    body = {"payment_id": "all", "order_id": "P-2001", "amount": "247.00", "currency": "EUR", "paid_at": "2026-11-21"}
    assert post_payment(client, body).status_code == 201
    settled = client.get(f"/m/{token()}?lang=en").get_data(as_text=True)
    assert 'id="status">Thank you: nothing is open' in settled
    assert rows and all(cell == "€0.00" for *_, cell in installment_rows(settled))
    assert all(paid == amount for _, amount, paid, _ in installment_rows(settled))
