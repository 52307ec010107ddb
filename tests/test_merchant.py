"""The merchant's dashboard through Flask's test client: the login (wrong password, CSRF, rate limit, cookie), the
report, the work list, requests and decisions recorded from the page, an order's timeline."""
import functools
import json
import re
from datetime import date

import pytest
from werkzeug.security import generate_password_hash

from dunning import campaigns, config, sending
from dunning.journal import decisions
from dunning.channels.outbox import OutboxChannel
from dunning.web import create_app
from dunning.web.merchant import LOGIN_LIMIT
from tests.test_cycle import shop_hook  # noqa: F401  (the shop's end of the cancellation call)
from tests.test_web import KEY, TODAY, shop  # noqa: F401  (the shop fixture)

PASSWORD = "correct horse battery staple"
HASH = generate_password_hash(PASSWORD)


@pytest.fixture
def reminded(shop, tmp_path):  # noqa: F811
    """The example shop after its final notices went out on 20 November, and a customer's request."""
    settings, store = shop
    campaign = campaigns.load("final", settings)
    sending.send(campaign, store, OutboxChannel(tmp_path / "outbox"), as_of=date(2026, 11, 20), dry_run=False)
    store.add_method_request("P-2003", "sepa_debit", "Bitte per Lastschrift")
    return settings, store


def client_for(settings, store, today=TODAY, **environ):
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_MERCHANT_PASSWORD_HASH": HASH} | environ
    client = create_app(settings, store=store, environ=env, today=lambda: today).test_client()
    for method in ("get", "post"):  # the session cookie is Secure: it travels over HTTPS only
        setattr(client, method, functools.partial(getattr(client, method), base_url="https://shop.example"))
    return client


def csrf_of(response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def signed_in(client):
    token = csrf_of(client.get("/merchant/login"))
    answer = client.post("/merchant/login", data={"csrf": token, "password": PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/merchant/")
    return answer


def test_the_dashboard_needs_a_login_and_a_right_password(reminded):
    client = client_for(*reminded)
    assert client.get("/merchant/").headers["Location"].endswith("/merchant/login")
    token = csrf_of(client.get("/merchant/login"))
    wrong = client.post("/merchant/login", data={"csrf": token, "password": "guess"})
    assert wrong.status_code == 401 and 'id="wrong"' in wrong.get_data(as_text=True)
    assert client.post("/merchant/login", data={"password": PASSWORD}).status_code == 400  # no CSRF token
    cookie = signed_in(client).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/merchant/")
    assert page.status_code == 200 and "Recovery report" in page.get_data(as_text=True)
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"] and "script" not in page.headers["Content-Security-Policy"]
    client.post("/merchant/logout", data={"csrf": csrf_of(page)})
    assert client.get("/merchant/").status_code == 302


def test_failed_logins_are_limited_per_client(reminded):
    client = client_for(*reminded)
    token = csrf_of(client.get("/merchant/login"))
    for _ in range(LOGIN_LIMIT):
        assert client.post("/merchant/login", data={"csrf": token, "password": "guess"}).status_code == 401
    assert client.post("/merchant/login", data={"csrf": token, "password": PASSWORD}).status_code == 429
    other = client_for(*reminded)  # another client address is not held back
    assert other.post("/merchant/login", data={"csrf": csrf_of(other.get("/merchant/login")), "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 302


def test_without_a_password_hash_the_dashboard_is_closed(reminded):
    client = client_for(*reminded, DUNNING_MERCHANT_PASSWORD_HASH="")
    answer = client.get("/merchant/login")
    assert answer.status_code == 503 and "DUNNING_MERCHANT_PASSWORD_HASH" in answer.get_data(as_text=True)


def test_the_work_list_requests_and_decisions_from_the_page(reminded):
    settings, store = reminded
    client = client_for(settings, store, today=date(2026, 12, 10))  # 20 days after the final notice
    signed_in(client)
    page = client.get("/merchant/")
    html = page.get_data(as_text=True)
    assert 'class="work"' in html and ">P-2006<" in html and "Bitte per Lastschrift" in html
    request_id = int(decisions.requests(store)["id"].iloc[0])
    token = csrf_of(page)
    assert client.post(f"/merchant/requests/{request_id}/done", data={"csrf": token}).status_code == 303
    assert decisions.requests(store).empty
    assert client.post("/merchant/orders/P-2006/decide", data={"csrf": token, "decision": "written_off"}).status_code == 303
    made = decisions.decided(store).set_index("order_id")
    assert made.loc["P-2006", ["decision", "currency", "amount_open"]].tolist() == ["written_off", "EUR", 48000]
    assert client.post("/merchant/orders/P-2006/decide", data={"decision": "cancelled"}).status_code == 400  # no CSRF
    timeline = client.get("/merchant/orders/P-2006").get_data(as_text=True)
    assert "Reminder sent: Final notice" in timeline and "Closed: Written off" in timeline
    assert client.get("/merchant/orders/NOPE").status_code == 404
    after = client.get("/merchant/").get_data(as_text=True)
    assert "Closed by you" in after and "Written off" in after


def test_the_dashboard_speaks_the_shops_language(reminded):
    settings, store = reminded
    german = config.Settings({**settings.data, "shop": {**settings.shop, "fallback_language": "de"}}, settings.root, settings.source)
    client = client_for(german, store)
    signed_in(client)
    html = client.get("/merchant/").get_data(as_text=True)
    assert '<html lang="de">' in html and "Noch offen" in html and "Wartet auf Ihre Entscheidung" in html


def test_the_password_hash_command_prints_only_the_hash():
    from typer.testing import CliRunner
    from werkzeug.security import check_password_hash

    from dunning.cli import app

    result = CliRunner().invoke(app, ["merchant-password"], input="a long enough secret\na long enough secret\n")
    assert result.exit_code == 0 and check_password_hash(result.stdout.strip(), "a long enough secret")
    assert "Password" in result.stderr
    short = CliRunner().invoke(app, ["merchant-password", "--password", "short"])
    assert short.exit_code == 2 and "at least 12 characters" in short.stderr


def test_the_german_dashboard_and_timeline_speak_german_throughout(reminded, monkeypatch):
    from typer.testing import CliRunner

    from dunning.cli import app

    settings, store = reminded
    monkeypatch.chdir(settings.root)
    exported = CliRunner().invoke(app, ["export", "examples/orders_elopage.csv", "--profile", "elopage", "--as-of",
                                        "2026-11-20", "--to", "brevo", "-o", "exports/mc.csv", "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["reminders_recorded"] > 0, exported.stdout
    client = client_for(*reminded)
    signed_in(client)
    html = client.get("/merchant/?lang=de").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", html[html.index("<main>"):])
    assert "Letzte Mahnung" in text and "übergeben in mc.csv" in text and "20.11.2026" in text
    for english in ("Friendly reminder", "Second reminder", "Final notice", "export:mc.csv"):
        assert english not in text and english not in html, english
    orders = html[html.index('<table class="orders">'):]
    assert "<td>Letzte Mahnung</td>" in orders and "<td>final</td>" not in orders  # the stage in words, not its name
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)  # no ISO dates for people
    timeline = client.get("/merchant/orders/P-2001?lang=de").get_data(as_text=True)
    assert "Erinnerung versandt: Letzte Mahnung" in timeline and '<time datetime="2026-11-20">20.11.2026</time>' in timeline


def test_a_customers_account_from_an_orders_page(reminded):
    client = client_for(*reminded)
    assert client.get("/merchant/customers/noor.jansen@example.nl").status_code == 302  # signed in only
    signed_in(client)
    order = client.get("/merchant/orders/P-2001?lang=en").get_data(as_text=True)
    assert 'href="/merchant/customers/noor.jansen@example.nl">Every order of noor.jansen@example.nl</a>' in order
    page = client.get("/merchant/customers/Noor.Jansen@example.nl?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Customer Noor.Jansen@example.nl" in html
    assert '<p id="owed-now">Owes now: €247.00</p>' in html and 'href="/merchant/orders/P-2001">P-2001</a>' in html
    assert "Reminder sent: Final notice" in html and "P-2002" not in html
    assert client.get("/merchant/customers/nobody@example.com").status_code == 404


def test_cancelling_from_the_page_writes_the_shops_file_and_calls_the_shop(reminded, shop_hook):
    settings, store = reminded
    url, received, answer = shop_hook
    answer["status"] = 204
    shop_settings = config.Settings({**settings.data, "shop": {**settings.shop, "cancel_url": url},
                                     "input": {"profile": "elopage"}}, settings.root, settings.source)
    client = client_for(shop_settings, store, today=date(2026, 12, 10), DUNNING_SHOP_SECRET="shop-secret")
    signed_in(client)
    token = csrf_of(client.get("/merchant/"))
    assert client.post("/merchant/orders/P-2006/decide", data={"csrf": token, "decision": "cancelled"}).status_code == 303
    assert decisions.decided(store).set_index("order_id").at["P-2006", "decision"] == "cancelled"
    shop_file = (shop_settings.exports_dir / "cancelled-2026-12-10.csv").read_text("utf-8").splitlines()
    assert shop_file[1:] == ["P-2006,storniert"] and json.loads(received[0][1])["orders"][0]["order_id"] == "P-2006"
    answer["status"] = 500
    refused = client.post("/merchant/orders/P-2006/decide", data={"csrf": token, "decision": "cancelled"})
    assert refused.status_code == 502 and "answered 500" in refused.get_data(as_text=True)
