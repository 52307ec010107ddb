"""One month of a shop through the command line, on SQLite and on PostgreSQL: every path writes the one
ledger and every path reads it. Export to a newsletter tool, a webhook payment, a payments file, a
later export with a partial drop, SMTP campaigns, the customer's page and the report, every figure exact."""
import json
from datetime import date

from typer.testing import CliRunner

from dunning import config, tracking
from dunning.cli import app
from dunning.journal.store import Store
from dunning.web import create_app
from tests.test_smtp import smtp_server  # noqa: F401  (a real SMTP server on loopback)
from tests.test_web import SECRET, post_payment

runner = CliRunner()
KEY = "scenario-key-0123456789abcdef-0123456"
HEADER = "order_id,email,first_name,last_name,language,product_name,payment_method,currency,status,due_date,open_amount"
FIRST = [  # the shop's export on 1 November
    "B-502,berta@example.de,Berta,Koch,de,Coaching,bank_transfer,EUR,pending,2026-10-20,1250.50",
    "W-1,will@example.com,Will,Ames,en,Course,paypal,EUR,pending,2026-10-25,80.00",
    "K-7,kai@example.nl,Kai,Smit,nl,Yoga,bank_transfer,EUR,pending,2026-10-28,100.00",
    "J-9,jun@example.com,Jun,Mori,en,Design,bank_transfer,JPY,pending,2026-10-28,12000",
]
LATER = [  # on 10 November: the shop saw B-502's 500.00 (also in the payments file) and 40.00 paid on K-7
    "B-502,berta@example.de,Berta,Koch,de,Coaching,bank_transfer,EUR,pending,2026-10-20,750.50",
    "W-1,will@example.com,Will,Ames,en,Course,paypal,EUR,pending,2026-10-25,80.00",
    "K-7,kai@example.nl,Kai,Smit,nl,Yoga,bank_transfer,EUR,pending,2026-10-28,60.00",
    "J-9,jun@example.com,Jun,Mori,en,Design,bank_transfer,JPY,pending,2026-10-28,12000",
    "N-1,nina@example.de,Nina,Roth,de,Coaching,bank_transfer,EUR,pending,2026-10-20,300.00",  # new: never reminded
]


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def write(path, rows):
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    return path


def campaign(workspace, name, stage, port):
    (workspace / "campaigns" / f"{name}.toml").write_text(
        f'stage = "{stage}"\nchannel = "smtp"\nrate_per_minute = 60000\n[input]\nfile = "../later.csv"\n'
        f'[sender]\nfrom = "Shop <billing@shop.example>"\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')


def page(settings, url, order_id, today):
    from dunning.tokens import TokenSigner

    client = create_app(settings, store=Store(url), environ={"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET},
                        today=lambda: today).test_client()
    return client, client.get(f"/m/{TokenSigner([KEY]).sign(order_id)}?lang=en").get_data(as_text=True)


def test_a_month_of_a_shop(tmp_path, monkeypatch, database_url, smtp_server):  # noqa: F811
    recorder, port = smtp_server
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    cli("init", tmp_path)
    settings = config.load(cwd=tmp_path)
    first, later = write(tmp_path / "first.csv", FIRST), write(tmp_path / "later.csv", LATER)

    # 1 November: the marketer's route. The hand-over is a friendly reminder in the ledger.
    handed = json.loads(cli("export", first, "--to", "mailchimp", "--as-of", "2026-11-01", "--json").stdout)
    assert handed["rows"] == 4 and handed["reminders_recorded"] == 4
    # 2 November: the next day's export hands nobody over again (cooldown), whichever route sent the last one.
    again = json.loads(cli("export", first, "--to", "brevo", "--as-of", "2026-11-02", "--json").stdout)
    assert again["rows"] == 0 and again["reminders_recorded"] == 0

    # 3 November: W-1 pays everything through the payment webhook; the page turns to paid.
    client, _ = page(settings, database_url, "W-1", date(2026, 11, 3))
    body = {"payment_id": "pp-1", "order_id": "W-1", "amount": "80.00", "currency": "EUR", "paid_at": "2026-11-03"}
    assert post_payment(client, body).status_code == 201
    assert "Thank you: nothing is open" in page(settings, database_url, "W-1", date(2026, 11, 3))[1]

    # 5 November: a payments file brings 500.00 on B-502; the page asks for what is left, QR code included.
    payments = tmp_path / "pay.csv"
    payments.write_text("payment_id,order_id,paid_at,amount,currency\nbank-77,B-502,2026-11-04,500.00,EUR\n", "utf-8")
    assert "1 new payments" in cli("track", "payments", payments, "--as-of", "2026-11-05").stdout
    assert 'id="open-now">€750.50<' in page(settings, database_url, "B-502", date(2026, 11, 5))[1]

    # 10 November: the shop's later export. B-502's drop is the same 500.00 (counted once); K-7's 40.00 was
    # paid to the shop directly; W-1's payment is not in the shop's books yet, and the ledger adds it.
    imported = cli("track", "import", later, "--as-of", "2026-11-10").stdout
    assert "2 changes in what later.csv says is paid" in imported
    look = {r["order_id"]: r for r in json.loads(cli("overdue", later, "--as-of", "2026-11-10", "--dry-run", "--json").stdout)}
    assert set(look) == {"B-502", "K-7", "J-9", "N-1"}  # W-1 owes nothing: the ledger knows of its webhook payment
    assert (look["B-502"]["open_amount"], look["B-502"]["ledger_paid"], look["B-502"]["stage"]) == ("750.50", "0.00", "second")
    assert (look["K-7"]["open_amount"], look["K-7"]["stage"], look["N-1"]["stage"]) == ("60.00", "second", "friendly")
    assert look["B-502"]["reminders_sent"] == 1 and look["B-502"]["last_stage"] == "friendly"

    # 10 November: the second reminder by SMTP goes to those who had the first, with what is open now.
    campaign(tmp_path, "second", "second", port)
    monkeypatch.chdir(tmp_path)
    cli("campaign", "prepare", "second", "--as-of", "2026-11-10")
    sent = json.loads(cli("campaign", "send", "second", "--send", "--as-of", "2026-11-10", "--json").stdout)
    assert sent["sent"] == 3
    letters = {m["To"].addresses[0].addr_spec: m.get_body(("plain",)).get_content() for m in recorder.messages}
    assert set(letters) == {"berta@example.de", "kai@example.nl", "jun@example.com"}
    assert "750,50\xa0€" in letters["berta@example.de"] and "€\xa060,00" in letters["kai@example.nl"]

    # 28 November: J-9 pays part by webhook; `overdue` names what only the ledger knows.
    client, _ = page(settings, database_url, "J-9", date(2026, 11, 28))
    body = {"payment_id": "pp-2", "order_id": "J-9", "amount": "5000", "currency": "JPY", "paid_at": "2026-11-28"}
    assert post_payment(client, body).status_code == 201
    look = {r["order_id"]: r for r in json.loads(cli("overdue", later, "--as-of", "2026-11-28", "--json").stdout)}
    assert (look["J-9"]["open_amount"], look["J-9"]["ledger_paid"], look["J-9"]["stage"]) == ("7000", "5000", "final")
    assert client.get(f"/m/{look['N-1']['token']}").status_code == 200  # every link handed out opens its page

    # 28 November: the final notice goes only to those who had the second; it says "despite our reminders".
    campaign(tmp_path, "final", "final", port)
    cli("campaign", "prepare", "final", "--as-of", "2026-11-28")
    sent = json.loads(cli("campaign", "send", "final", "--send", "--as-of", "2026-11-28", "--json").stdout)
    assert sent["sent"] == 3
    finals = [m for m in recorder.messages[3:]]
    assert sorted(m["To"].addresses[0].addr_spec for m in finals) == ["berta@example.de", "jun@example.com", "kai@example.nl"]
    assert all(("Despite our reminders" in m.get_body(("plain",)).get_content()
                or "trotz unserer Erinnerungen" in m.get_body(("plain",)).get_content()
                or "Ondanks onze herinneringen" in m.get_body(("plain",)).get_content()) for m in finals)
    jun = next(m for m in finals if m["To"].addresses[0].addr_spec == "jun@example.com").get_body(("plain",)).get_content()
    assert "¥7,000" in jun

    # 30 November: the report. Every recovered cent is one payment row with its source.
    report = json.loads(cli("report", "--as-of", "2026-11-30", "--json").stdout)
    by_stage = {(r["stage"], r["currency"]): r for r in report["by stage"]}
    friendly_eur = by_stage[("friendly", "EUR")]
    assert (friendly_eur["orders_reminded"], friendly_eur["amount_reminded"], friendly_eur["amount_recovered"],
            friendly_eur["still_open"]) == (3, "1430.50", "620.00", "810.50")
    assert (by_stage[("friendly", "JPY")]["amount_recovered"], by_stage[("friendly", "JPY")]["still_open"]) == ("5000", "7000")
    second_eur = by_stage[("second", "EUR")]
    assert (second_eur["amount_reminded"], second_eur["amount_recovered"], second_eur["still_open"]) == ("810.50", "0.00", "810.50")
    final_jpy = by_stage[("final", "JPY")]
    assert (final_jpy["amount_reminded"], final_jpy["amount_recovered"], final_jpy["still_open"]) == ("7000", "0", "7000")
    credited = tracking.credited(Store(database_url), date(2026, 11, 30))
    traced = {(c.order_id, c.payment_id.rsplit(":", 1)[0] if c.payment_id.startswith("export:") else c.payment_id,
               c.payment_source, int(c.amount)) for c in credited.itertuples() if c.stage == "friendly"}
    assert traced == {("W-1", "webhook:pp-1", "webhook", 8000), ("B-502", "file:bank-77", "file:pay.csv", 50000),
                      ("K-7", "export:drop:K-7:2026-11-10", "export:later.csv", 4000), ("J-9", "webhook:pp-2", "webhook", 5000)}
    eur = [c for c in credited.itertuples() if c.stage == "friendly" and c.order_id != "J-9"]
    assert sum(int(c.amount) for c in eur) == 62000  # the report's 620.00, cent for cent


def test_the_final_notice_and_the_page_name_the_payment_deadline(tmp_path, monkeypatch, smtp_server):  # noqa: F811
    recorder, port = smtp_server
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    cli("init", tmp_path)
    write(tmp_path / "later.csv", [LATER[0]])
    settings = config.load(cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    for stage, day in (("friendly", "2026-11-01"), ("second", "2026-11-10"), ("final", "2026-11-25")):
        campaign(tmp_path, stage, stage, port)
        cli("campaign", "prepare", stage, "--as-of", day)
        cli("campaign", "send", stage, "--send", "--as-of", day)
    final = recorder.messages[-1].get_body(("plain",)).get_content()
    assert "Bitte zahlen Sie bis zum 9. Dezember 2026." in final  # 25 November + 14 days, in German
    _, page_html = page(settings, f"sqlite:///{tmp_path / 'dunning.sqlite3'}", "B-502", date(2026, 11, 26))
    assert 'id="deadline"><strong>Please pay by December 9, 2026.' in page_html
