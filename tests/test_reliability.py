"""Reliability: every command after every kind of record the ledger holds, a webhook that fails halfway, the dashboard's
sessions and logins, careless settings, a full disk, the stores' limits and errors, a proxy that is not there."""
import functools
import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from dunning import config
from dunning.errors import InputError
from dunning.journal import pages, recording
from dunning.journal.store import Store
from dunning.web import create_app
from dunning.web.merchant import FLOOD_LIMIT, LOGIN_LIMIT
from tests.conftest import observed
from tests.test_journal import KEY, cli, orders_file, row, shop, statement  # noqa: F401  (the shop fixture)
from tests.test_web import SECRET, post_payment

PASSWORD = "correct horse battery staple"


def test_every_command_reads_after_every_kind_of_record(shop):
    everything = orders_file(shop / "all.csv", row("A-1", "100.00"), row("A-2", "100.00", last="Roth"), row("A-3", "50.00"),
                             row("A-4", "70.00", last="Wolf"))
    cli("export", everything, "--to", "generic", "--as-of", "2026-11-01", "-o", "handed.csv")
    settings = config.load()
    client = create_app(settings, store=settings.store(), environ={"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET},
                        today=lambda: date(2026, 11, 3)).test_client()
    post_payment(client, {"payment_id": "w1", "order_id": "A-1", "amount": "10.00", "currency": "EUR", "paid_at": "2026-11-02"})
    post_payment(client, {"payment_id": "w2", "order_id": "NOBODY", "amount": "5.00", "currency": "EUR", "paid_at": "2026-11-02"})
    statement(shop / "bank.xml", ("S1", "50.00", "credit", "2026-11-02", "Zahlung", ""), ("S2", "8.00", "credit", "2026-11-02", "Spende", ""))
    cli("track", "statement", "bank.xml", "--as-of", "2026-11-03")  # a probable match and an unmatched entry
    settings.store().add_method_request("A-2", "sepa_debit", "please")
    settings.store().record_visits([{"order_id": "A-2", "visited_at": pages.now()}])
    cli("actions", "decide", "A-4", "--as", "cancelled", "--as-of", "2026-11-03")
    waiting = json.loads(cli("payments", "list", "--json").stdout)
    assert {w["status"] for w in waiting} == {"review", "unmatched"}
    without = orders_file(shop / "some.csv", row("A-1", "100.00"), row("B-9", "40.00", last="Neu"))
    (shop / "campaigns" / "f.toml").write_text('stage = "friendly"\n[input]\nfile = "../some.csv"\n'
                                                '[sender]\nfrom = "Shop <billing@shop.example>"\n')
    for export in (everything, without):
        cli("overdue", export, "--as-of", "2026-11-20", "--dry-run", "--json")
        cli("overdue", export, "--as-of", "2026-11-20", "--not-dunned", "--json")
        cli("export", export, "--to", "mailchimp", "--as-of", "2026-11-20", "--dry-run")
        cli("track", "import", export, "--as-of", "2026-11-20")
    cli("campaign", "prepare", "f", "--as-of", "2026-11-21")
    cli("overdue", without, "--as-of", "2026-11-22")
    for command in (["report", "--as-of", "2026-11-22", "--json"], ["actions", "--as-of", "2026-11-22", "--json"],
                    ["track", "open", "--as-of", "2026-11-22", "--json"], ["order", "A-4", "--json"], ["order", "B-9", "--json"]):
        cli(*command)
    assert "decision" in {e["event"] for e in json.loads(cli("order", "A-4", "--json").stdout)["events"]}


def test_a_webhook_that_fails_halfway_is_taken_when_the_provider_retries(shop, monkeypatch):
    cli("overdue", orders_file(shop / "o.csv", row("W-1", "100.00")), "--as-of", "2026-11-01")
    settings = config.load()
    client = create_app(settings, store=settings.store(), environ={"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET},
                        today=lambda: date(2026, 11, 3)).test_client()
    body = {"payment_id": "pi_1", "order_id": "W-1", "amount": "100.00", "currency": "EUR", "paid_at": "2026-11-02"}
    real = recording.write
    monkeypatch.setattr(recording, "write", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("the disk hiccuped")))
    stamp = 1_800_000_000
    monkeypatch.setattr("time.time", lambda: stamp)
    assert post_payment(client, body, timestamp=stamp).status_code == 500
    monkeypatch.setattr(recording, "write", real)
    retried = post_payment(client, body, timestamp=stamp)  # the very same signed request
    assert retried.status_code == 201 and retried.get_json()["status"] == "recorded"
    assert post_payment(client, body, timestamp=stamp).status_code == 409  # now it is a replay
    nul = post_payment(client, body | {"payment_id": "pi_\x00_2"}, timestamp=stamp)
    assert nul.status_code == 422 and "control character" in nul.get_json()["error"]
    assert len(observed(settings.store())) == 1


def merchant_client(settings, store, password_hash, address="203.0.113.7"):
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_MERCHANT_PASSWORD_HASH": password_hash}
    client = create_app(settings, store=store, environ=env).test_client()
    for method in ("get", "post"):
        setattr(client, method, functools.partial(getattr(client, method), base_url="https://shop.example",
                                                  environ_base={"REMOTE_ADDR": address}))
    return client


def csrf_of(response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def sign_in(client, password=PASSWORD):
    return client.post("/merchant/login", data={"csrf": csrf_of(client.get("/merchant/login")), "password": password})


@pytest.fixture
def dashboard(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config.init(tmp_path)
    settings = config.load(cwd=tmp_path)
    return settings, settings.store(), generate_password_hash(PASSWORD)


def test_the_login_form_needs_its_csrf_token(dashboard):
    client = merchant_client(*dashboard)
    assert client.post("/merchant/login", data={"password": PASSWORD}).status_code == 400  # no token, no cookie
    assert client.post("/merchant/login", data={"password": PASSWORD, "csrf": ""}).status_code == 400
    assert sign_in(client).status_code == 302


def test_lockout_stops_the_attacker_and_lets_the_merchant_in(dashboard):
    merchant = merchant_client(*dashboard)
    assert sign_in(merchant).status_code == 302  # the merchant's browser signed in before: it holds its own cookie
    merchant.post("/merchant/logout", data={"csrf": csrf_of(merchant.get("/merchant/"))})
    attacker = merchant_client(*dashboard)  # the same address, as behind one proxy
    for _ in range(LOGIN_LIMIT):
        assert sign_in(attacker, "guess").status_code == 401
    assert sign_in(attacker, PASSWORD).status_code == 429
    assert sign_in(merchant).status_code == 302


def test_signing_out_a_new_password_and_eight_hours_end_a_session(dashboard, monkeypatch):
    settings, store, password_hash = dashboard
    client = merchant_client(settings, store, password_hash)
    sign_in(client)
    page = client.get("/merchant/")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers  # using it does not renew it
    stolen = client.get_cookie("dunning_merchant", domain="shop.example").value
    client.post("/merchant/logout", data={"csrf": csrf_of(page)})
    thief = merchant_client(settings, store, password_hash)
    thief.set_cookie("dunning_merchant", stolen, domain="shop.example")
    assert thief.get("/merchant/").status_code == 302  # the cookie captured before signing out opens nothing
    sign_in(client)
    cookie = client.get_cookie("dunning_merchant", domain="shop.example").value
    renewed = merchant_client(settings, store, generate_password_hash("another long password"))  # a new hash, a restart
    renewed.set_cookie("dunning_merchant", cookie, domain="shop.example")
    assert renewed.get("/merchant/").status_code == 302
    later = pages.now() + timedelta(hours=8, minutes=1)
    monkeypatch.setattr(pages, "now", lambda: later)
    assert client.get("/merchant/").status_code == 302


def test_a_flood_of_logins_checks_no_more_passwords(dashboard, monkeypatch):
    import dunning.web.merchant as merchant

    checked = []
    real = merchant.check_password_hash
    monkeypatch.setattr(merchant, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    for n in range(FLOOD_LIMIT + 10):
        sign_in(merchant_client(*dashboard, address=f"198.51.100.{n}"), "guess")
    assert len(checked) == FLOOD_LIMIT  # from everywhere together: beyond the limit, no scrypt at all


@pytest.mark.parametrize("careless", ["correct horse battery staple", "sha256$abc$def", "scrypt:32768:8:1"])
def test_a_careless_password_hash_stops_the_server_with_one_sentence(dashboard, careless):
    settings, store, _ = dashboard
    with pytest.raises(InputError, match="not a password hash"):
        create_app(settings, store=store, environ={"DUNNING_SECRET_KEYS": KEY, "DUNNING_MERCHANT_PASSWORD_HASH": careless})


def test_the_dashboard_answers_bad_requests_without_500s(shop):
    export = orders_file(shop / "o.csv", row("X/1", "100.00"), row("X-2", "80.00", last="Roth"))
    cli("overdue", export, "--as-of", "2026-11-01")
    settings = config.load()
    client = merchant_client(settings, settings.store(), generate_password_hash(PASSWORD))
    sign_in(client)
    token = csrf_of(client.get("/merchant/"))
    assert client.post("/merchant/orders/X-2/decide", data={"csrf": token, "decision": "bogus"}).status_code == 400
    assert client.post("/merchant/requests/999/done", data={"csrf": token}).status_code == 404
    assert client.post(f"/merchant/requests/{'9' * 23}/done", data={"csrf": token}).status_code == 404
    assert client.get("/merchant/orders/X/1").status_code == 200  # an order id with a slash opens its timeline


def test_the_development_server_has_no_debugger_unless_asked(dashboard, monkeypatch):
    from dunning.web import server

    settings, store, _ = dashboard
    flask_app = create_app(settings, store=store, environ={"DUNNING_SECRET_KEYS": KEY})
    ran = []
    monkeypatch.setattr(flask_app, "run", lambda **kw: ran.append(kw))
    server.serve(flask_app, "127.0.0.1", 8000, 1, dev=True)
    server.serve(flask_app, "127.0.0.1", 8000, 1, dev=True, debugger=True)
    assert [r["debug"] for r in ran] == [False, True]


def can_mount() -> bool:
    return os.geteuid() == 0 and subprocess.run(["which", "mount"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_mount(), reason="mounting a small tmpfs for a full disk needs root")
def test_a_full_disk_leaves_no_cut_file_and_keeps_the_good_one(shop, tmp_path):
    disk = tmp_path / "tiny"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not let a test mount a tmpfs")
    try:
        many = orders_file(shop / "many.csv", *[row(f"N-{n}", "10.00", last="L" * 60) for n in range(3000)])
        small = orders_file(shop / "small.csv", row("N-1", "10.00"))
        env = {**os.environ, "DUNNING_SECRET_KEYS": KEY}
        run = lambda export, *extra: subprocess.run(  # noqa: E731  (a real process, as a user runs it)
            [sys.executable, "-m", "dunning", "overdue", str(export), "--as-of", "2026-11-20", "--dry-run", "--csv",
             str(disk / "out.csv"), *extra], cwd=shop, env=env, capture_output=True, text=True)
        good = run(small)
        assert good.returncode == 0, good.stderr
        before = (disk / "out.csv").read_bytes()
        full = run(many, "--force")
        assert full.returncode == 1 and "the disk is full" in full.stderr and "fault of dunning" not in full.stderr
        assert (disk / "out.csv").read_bytes() == before  # the good file stays as it was
        assert [p.name for p in disk.iterdir() if p.name.endswith(".part")] == []
    finally:
        subprocess.run(["umount", str(disk)])


def test_a_name_longer_than_the_store_holds_is_a_rejected_row_on_every_store(shop):
    export = orders_file(shop / "o.csv", row("L-1", "10.00", last="X" * 250), row("L-2", "10.00"))
    result = cli("overdue", export, "--as-of", "2026-11-20")
    assert "row 2, last_name: longer than 200 characters" in result.stderr
    assert Store(os.environ["DUNNING_DATABASE_URL"]).holds("L-2") and not Store(os.environ["DUNNING_DATABASE_URL"]).holds("L-1")


def test_a_store_that_goes_away_is_one_sentence_without_sql(shop, monkeypatch):
    export = orders_file(shop / "o.csv", row("G-1", "10.00"))
    failure = sa.exc.OperationalError("SELECT secret_column FROM orders WHERE x = %(p)s", {"p": "customer@example.com"},
                                      Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(recording, "plan", lambda *a, **k: (_ for _ in ()).throw(failure))
    result = cli("overdue", export, "--as-of", "2026-11-20", code=1)
    assert "the store could not be used (server closed the connection unexpectedly)" in result.stderr
    assert "SELECT" not in result.output and "customer@example.com" not in result.output and "Traceback" not in result.output


def test_forwarded_addresses_count_only_from_a_proxy(dashboard):
    settings, store, password_hash = dashboard
    settings.data["web"] = {"trusted_proxies": 1}
    direct = merchant_client(settings, store, password_hash, address="203.0.113.9")
    statuses = [direct.post("/merchant/login", data={"csrf": csrf_of(direct.get("/merchant/login")), "password": "guess"},
                            headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(LOGIN_LIMIT + 2)]
    assert statuses[-1] == 429  # a client straight from the internet cannot choose its address
    proxied = merchant_client(settings, store, password_hash, address="10.0.0.2")
    answers = [proxied.post("/merchant/login", data={"csrf": csrf_of(proxied.get("/merchant/login")), "password": "guess"},
                            headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(LOGIN_LIMIT + 2)]
    assert set(answers) == {401}  # behind the proxy, each customer is their own address
