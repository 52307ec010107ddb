"""The whole cycle through the CLI, as a shop lives it: a notice before the due date, the reminders, a payment and its
confirmation, the final notice, and the merchant's decision; through the outbox and a real SMTP server."""
import email
import email.policy
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning.cli import app
from tests.test_smtp import smtp_server  # noqa: F401  (a real SMTP server on loopback)

runner = CliRunner()
HEADER = ("order_id,email,first_name,last_name,language,product_name,kind,payment_method,currency,status,start_date,"
          "interval,installments,installment_amount,first_payment_discount,end_date")
PLANS = [
    "U-1,uta@example.de,Uta,Berg,de,Yoga-Kurs,installment,bank_transfer,EUR,active,2026-10-05,1 month,6,50.00,,",   # on time
    "L-1,lou@example.com,Lou,Park,en,Design Course,installment,bank_transfer,EUR,active,2026-09-01,1 month,3,100.00,,",
]
PAID = ["payment_id,order_id,paid_at,amount,currency", "u-oct,U-1,2026-10-05,50.00,EUR", "u-nov,U-1,2026-11-05,50.00,EUR",
        "l-sep,L-1,2026-09-01,100.00,EUR"]


def cli(*args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def shop(tmp_path, monkeypatch, signing_key):
    monkeypatch.chdir(tmp_path)
    cli("init", tmp_path)
    (tmp_path / "plans.csv").write_text("\n".join([HEADER, *PLANS]) + "\n", "utf-8")
    (tmp_path / "paid.csv").write_text("\n".join(PAID) + "\n", "utf-8")
    return tmp_path


def campaign(shop: Path, name: str, stage: str, channel: str, port: int = 0, extra: str = "", paid: bool = True) -> None:
    """campaigns/<name>.toml over plans.csv (and paid.csv), sending through the outbox or the SMTP server on `port`."""
    server = f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n' if channel == "smtp" else ""
    payments = 'payments = "../paid.csv"\n' if paid else ""
    (shop / "campaigns" / f"{name}.toml").write_text(
        f'stage = "{stage}"\nchannel = "{channel}"\nrate_per_minute = 60000\n{extra}[input]\nfile = "../plans.csv"\n'
        f'{payments}[sender]\nfrom = "Yoga Shop <billing@shop.example>"\n{server}', "utf-8")


def sent(shop: Path, name: str, channel: str, recorder) -> list[email.message.EmailMessage]:
    if channel == "smtp":
        return list(recorder.messages)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((shop / "outbox" / name).glob("*.eml"))]


def manage_page(shop: Path, link: str, today: date) -> str:
    """The page a link in a message opens, as the customer sees it that day."""
    from dunning import config
    from dunning.web import create_app

    settings = config.load(cwd=shop)
    client = create_app(settings, store=settings.store(), today=lambda: today).test_client()
    return client.get(link[link.index("/m/"):]).get_data(as_text=True)


def send(name: str, as_of: str) -> dict:
    cli("campaign", "prepare", name, "--as-of", as_of)
    return json.loads(cli("campaign", "send", name, "--send", "--as-of", as_of, "--json").stdout)


@pytest.mark.parametrize("channel", ["outbox", "smtp"])
def test_a_notice_before_the_due_date_once_per_installment(shop, channel, smtp_server):  # noqa: F811
    recorder, port = smtp_server
    campaign(shop, "soon", "upcoming", channel, port)
    assert send("soon", "2026-11-30")["sent"] == 1  # U-1's 50.00 falls due on 5 December; L-1 is overdue
    [notice] = sent(shop, "soon", channel, recorder)
    assert notice["To"].addresses[0].addr_spec == "uta@example.de"
    assert notice["Subject"].replace("\xa0", " ") == "Demnächst fällig: 50,00 € für Yoga-Kurs am 05.12.2026"
    assert "Ihre nächste Zahlung über 50,00\xa0€ ist am 05.12.2026 fällig" in notice.get_body(("plain",)).get_content()
    assert send("soon", "2026-12-02")["sent"] == 0  # never twice for the same installment
    link = next(line for line in notice.get_body(("plain",)).get_content().splitlines() if "/m/" in line).strip()
    page = manage_page(shop, link, date(2026, 11, 30))
    assert 'id="next-due">50,00\xa0€<' in page and "Nächste Zahlung, fällig am 05.12.2026" in page
    assert "nichts mehr offen" not in page
    looked = json.loads(cli("overdue", "plans.csv", "--payments", "paid.csv", "--as-of", "2026-11-30", "--json", "--dry-run").stdout)
    assert "U-1" not in {o["order_id"] for o in looked}  # a notice is not arrears
    (shop / "paid.csv").write_text("\n".join([*PAID, "u-dec,U-1,2026-12-04,50.00,EUR"]) + "\n", "utf-8")
    cli("track", "payments", "paid.csv", "--as-of", "2026-12-06")
    report = json.loads(cli("report", "--as-of", "2026-12-06", "--json").stdout)
    [row] = report["notices before the due date"]
    assert (row["stage"], row["notices"], row["amount_announced"], row["paid_on_time"], row["paid_late"]) == ("upcoming", 1, "50.00", 1, 0)
    assert report["by campaign"] == [] or all(r["source"] != "soon" for r in report["by campaign"])  # counted apart


def test_a_notice_through_an_export(shop):
    result = json.loads(cli("export", "plans.csv", "--payments", "paid.csv", "--to", "generic", "--stage", "upcoming",
                            "--as-of", "2026-11-30", "-o", "notices.csv", "--json").stdout)
    assert result["rows"] == 1 and result["reminders_recorded"] == 1
    text = (shop / "notices.csv").read_text("utf-8")
    assert "U-1" in text and "L-1" not in text and "notices.template.upcoming.de.txt" in " ".join(result["templates"])
    again = json.loads(cli("export", "plans.csv", "--payments", "paid.csv", "--to", "generic", "--stage", "upcoming",
                           "--as-of", "2026-12-01", "-o", "notices-2.csv", "--json").stdout)
    assert again["rows"] == 0  # handed over once for that installment


@pytest.mark.parametrize("channel", ["outbox", "smtp"])
def test_a_payment_is_confirmed_once_with_what_is_still_open(shop, channel, smtp_server):  # noqa: F811
    recorder, port = smtp_server
    campaign(shop, "first", "friendly", "outbox")
    campaign(shop, "thanks", "confirmation", channel, port)
    assert send("first", "2026-11-05")["sent"] == 1  # L-1: October's 100.00 open
    assert send("thanks", "2026-11-06")["sent"] == 0  # nothing paid since
    (shop / "paid.csv").write_text("\n".join([*PAID, "u-dec,U-1,2026-12-04,50.00,EUR", "l-oct,L-1,2026-11-07,40.00,EUR"]) + "\n")
    assert send("thanks", "2026-11-08")["sent"] == 1  # L-1's 40.00: U-1 was never reminded, its payments are not news
    [thanks] = sent(shop, "thanks", channel, recorder)
    text = thanks.get_body(("plain",)).get_content()
    assert thanks["Subject"] == "Payment received: thank you (L-1)"
    assert "your payment of €40.00" in text and "€160.00 is still open" in text
    assert send("thanks", "2026-11-09")["sent"] == 0  # never twice for the same payment
    cli("track", "payments", "paid.csv", "--as-of", "2026-11-09")  # the file read again: the same payments, no news
    assert send("thanks", "2026-11-10")["sent"] == 0
    history = json.loads(cli("report", "--as-of", "2026-11-10", "--json").stdout)
    assert {r["source"] for r in history["by campaign"]} == {"first"}  # a confirmation is not a reminder


def test_after_the_final_notice_the_merchant_decides(shop):
    for name, stage, day in (("f", "friendly", "2026-10-10"), ("s", "second", "2026-10-20"), ("x", "final", "2026-11-01")):
        campaign(shop, name, stage, "outbox")
        assert send(name, day)["sent"] == 1
    assert json.loads(cli("actions", "--as-of", "2026-11-10", "--json").stdout) == []  # 9 days after the final notice
    [item] = json.loads(cli("actions", "--as-of", "2026-11-20", "--json").stdout)
    assert (item["order_id"], item["action"], item["open_amount"], item["final_sent_on"]) == ("L-1", "review", "200.00", "2026-11-01")
    assert item["reminders"] == "friendly 2026-10-10, second 2026-10-20, final 2026-11-01"
    cli("actions", "--as-of", "2026-11-20", "--csv", "work.csv")
    assert "L-1,review,Lou Park" in (shop / "work.csv").read_text("utf-8")
    cli("actions", "decide", "L-1", "--as", "written_off", "--note", "no answer", "--as-of", "2026-11-20")
    assert "decided before" in cli("actions", "decide", "L-1", "--as", "cancelled", code=2).stderr
    assert "must be one of" in cli("actions", "decide", "U-1", "--as", "forgiven", code=2).stderr
    assert json.loads(cli("actions", "--as-of", "2026-11-25", "--json").stdout) == []
    looked = json.loads(cli("overdue", "plans.csv", "--payments", "paid.csv", "--as-of", "2026-11-25", "--json",
                            "--not-dunned", "--dry-run").stdout)
    assert any(o["order_id"] == "L-1" and "written off on 2026-11-20" in o["why"] for o in looked)
    report = json.loads(cli("report", "--as-of", "2026-11-25", "--json").stdout)
    assert report["closed by you"] == [{"decision": "written_off", "currency": "EUR", "orders": 1, "amount": "200.00"}]
    # closed: what was open when the merchant decided, the same figure in the headline and in its table; not still open
    assert report["headline"][0]["still_open"] == "0.00" and report["headline"][0]["closed"] == "200.00"


def test_a_change_of_method_request_waits_until_it_is_done(shop):
    from dunning import config

    campaign(shop, "f", "friendly", "outbox")
    send("f", "2026-11-05")
    store = config.load().store()
    store.add_method_request("L-1", "sepa_debit", "")
    store.record_visits([{"order_id": "L-1", "visited_at": datetime.now(timezone.utc)}])
    [item] = json.loads(cli("actions", "--as-of", "2026-11-06", "--json").stdout)
    assert item["action"] == "answer request" and item["requests"].startswith("#1 sepa_debit")
    assert item["visits"] == 1 and item["last_visit"] and item["reminders"] == "friendly 2026-11-05"
    cli("actions", "done", "1")
    assert "done before" in cli("actions", "done", "1", code=2).stderr
    assert json.loads(cli("actions", "--as-of", "2026-11-06", "--json").stdout) == []


def test_a_payment_from_the_bank_statement_is_confirmed_too(shop):
    campaign(shop, "first", "friendly", "outbox")
    campaign(shop, "thanks", "confirmation", "outbox")
    assert send("first", "2026-11-05")["sent"] == 1
    (shop / "bank.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
        "<BkToCstmrStmt><Stmt><Id>S-1</Id><Ntry><Amt Ccy=\"EUR\">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-07</Dt></BookgDt><AcctSvcrRef>B-1</AcctSvcrRef>"
        "<NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>Lou Park</Nm></Pty></Dbtr></RltdPties>"
        "<RmtInf><Ustrd>Order L-1</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>", "utf-8")
    cli("track", "statement", "bank.xml", "--as-of", "2026-11-08")
    assert send("thanks", "2026-11-08")["sent"] == 1
    [thanks] = sent(shop, "thanks", "outbox", None)
    assert "your payment of €100.00" in thanks.get_body(("plain",)).get_content()


@pytest.fixture
def shop_hook():
    """The shop's end of the cancellation call, on loopback: what it received, and the status it answers."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received, answer = [], {"status": 503}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(answer["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dunning", received, answer
    server.shutdown()


def test_the_policy_cancels_with_a_notice_a_file_for_the_shop_and_a_signed_call(shop, shop_hook, monkeypatch):
    from dunning.signatures import sign
    from dunning.sources import profiles

    url, received, answer = shop_hook
    settings = (shop / "dunning.toml").read_text("utf-8").replace('action = "review"', 'action = "cancel"')
    (shop / "dunning.toml").write_text(settings.replace("[shop]\n", f'[shop]\ncancel_url = "{url}"\n', 1), "utf-8")
    monkeypatch.setenv("DUNNING_SHOP_SECRET", "shop-secret")
    for name, stage, day in (("f", "friendly", "2026-10-10"), ("s", "second", "2026-10-20"), ("x", "final", "2026-11-01")):
        campaign(shop, name, stage, "outbox")
        assert send(name, day)["sent"] == 1
    look = json.loads(cli("actions", "cancel", "--due", "--dry-run", "--as-of", "2026-11-20", "--json").stdout)
    assert look == {"would_cancel": ["L-1"]} and received == []
    assert [i["action"] for i in json.loads(cli("actions", "--as-of", "2026-11-20", "--json").stdout)] == ["cancel"]

    refused = cli("actions", "cancel", "--due", "--as-of", "2026-11-20", "--profile", "elopage", "--csv", "shop.csv", code=1)
    assert "answered 503" in refused.stderr and "run the same command again" in refused.stderr
    assert json.loads(cli("actions", "--as-of", "2026-11-21", "--json").stdout) == []  # cancelled all the same
    elopage = profiles.load("elopage")
    assert (shop / "shop.csv").read_text("utf-8").splitlines() == [
        f"{elopage.columns['order_id'][0]},{elopage.columns['status'][0]}", "L-1,storniert"]  # the shop's own words

    answer["status"] = 200
    again = json.loads(cli("actions", "cancel", "--order", "L-1", "--as-of", "2026-11-21", "--profile", "elopage",
                           "--csv", "shop.csv", "--json").stdout)
    assert again["cancelled"] == [] and again["cancelled_before"] == ["L-1"] and again["shop_answered"] == 200
    headers, body = received[-1]
    assert len(received) == 2 and headers["X-Dunning-Signature"] == sign("shop-secret", int(headers["X-Dunning-Timestamp"]), body)
    assert json.loads(body) == {"event": "orders.cancelled", "as_of": "2026-11-21",
                                "orders": [{"order_id": "L-1", "currency": "EUR", "open_amount": "200.00"}]}

    campaign(shop, "gone", "cancellation", "outbox")
    assert send("gone", "2026-11-21")["sent"] == 1
    [notice] = sent(shop, "gone", "outbox", None)
    text = notice.get_body(("plain",)).get_content()
    assert notice["Subject"] == "Your order L-1 is cancelled" and notice["To"].addresses[0].addr_spec == "lou@example.com"
    assert "the payment of €200.00 did not reach us" in text and "/m/" not in text
    assert send("gone", "2026-11-22")["sent"] == 0  # told once
    looked = json.loads(cli("overdue", "plans.csv", "--payments", "paid.csv", "--as-of", "2026-11-25", "--json",
                            "--not-dunned", "--dry-run").stdout)
    assert any(o["order_id"] == "L-1" and "cancelled on 2026-11-20" in o["why"] for o in looked)
    report = json.loads(cli("report", "--as-of", "2026-11-25", "--json").stdout)
    assert report["closed by you"] == [{"decision": "cancelled", "currency": "EUR", "orders": 1, "amount": "200.00"}]
    assert {r["source"] for r in report["by campaign"]} == {"f", "s", "x"}  # a cancellation notice is no reminder


def test_cancelling_an_unknown_order_changes_nothing(shop):
    assert "not in the ledger: NOPE" in cli("actions", "cancel", "--order", "NOPE", code=2).stderr
    nothing = cli("actions", "cancel", "--due")
    assert "is 'review', not 'cancel'" in nothing.stderr and nothing.stdout.strip() == "nothing to cancel"
    (shop / "dunning.toml").write_text((shop / "dunning.toml").read_text("utf-8").replace(
        "[shop]\n", '[shop]\ncancel_url = "http://shop.example/hook"\n', 1), "utf-8")
    assert "goes over https" in cli("actions", "cancel", "--order", "L-1", code=2).stderr
