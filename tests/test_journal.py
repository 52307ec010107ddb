"""The journal through the command line, on SQLite and PostgreSQL, every figure asserted: each real movement of money
counted once however many sources report it and in whatever order they arrive; money going back; fees that exist
only once their reminder was sent; then `overdue`, `export`, the page, `actions`, `report` and `order` agree."""
import csv
import io
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from dunning import config
from dunning.cli import app
from dunning.journal.store import Store
from dunning.journal.tables import reminders
from dunning.tokens import TokenSigner
from dunning.web import create_app
from tests.conftest import observed
from tests.test_web import SECRET, post_payment

runner = CliRunner()
KEY = "journal-key-0123456789abcdef-0123456"
HEADER = "order_id,email,first_name,last_name,language,product_name,payment_method,currency,status,due_date,total_amount,paid_amount"


def cli(*args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def orders_file(path, *rows):
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    return path


def row(order_id, total, paid="0.00", status="pending", last="Koch", due="2026-10-20"):
    return f"{order_id},{order_id.lower()}@example.de,Berta,{last},en,Coaching,bank_transfer,EUR,{status},{due},{total},{paid}"


def statement(path, *entries):
    """A camt.053 with entries (ref, amount, credit/debit/return, booked on, text, extra XML inside TxDtls)."""
    made = []
    for ref, amount, kind, day, text, extra in entries:
        debit = kind != "credit"
        made.append(
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{"DBIT" if debit else "CRDT"}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
            f"<BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls>{extra}"
            f"<RltdPties><Dbtr><Pty><Nm>Berta Koch</Nm></Pty></Dbtr></RltdPties><RmtInf><Ustrd>{text}</Ustrd></RmtInf>"
            + ("<RtrInf><Rsn><Cd>AM04</Cd></Rsn></RtrInf>" if kind == "return" else "") + "</TxDtls></NtryDtls></Ntry>")
    path.write_text('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
                    f"<BkToCstmrStmt><Stmt><Id>S</Id>{''.join(made)}</Stmt></BkToCstmrStmt></Document>", "utf-8")
    return path


@pytest.fixture
def shop(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    monkeypatch.setenv("DUNNING_WEBHOOK_SECRET", SECRET)
    cli("init", tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def looked(export, as_of):
    """`overdue --dry-run --json` (the overdue orders) and `--not-dunned`, by order id."""
    found = json.loads(cli("overdue", export, "--as-of", as_of, "--json", "--dry-run").stdout)
    return {r["order_id"]: r for r in found}


def webhook(body, today):
    settings = config.load()
    client = create_app(settings, store=settings.store(), environ={"DUNNING_SECRET_KEYS": KEY, "DUNNING_WEBHOOK_SECRET": SECRET},
                        today=lambda: today).test_client()
    return post_payment(client, body)


def page(order_id, today):
    settings = config.load()
    client = create_app(settings, store=settings.store(), environ={"DUNNING_SECRET_KEYS": KEY}, today=lambda: today).test_client()
    return client.get(f"/m/{TokenSigner([KEY]).sign(order_id)}?lang=en").get_data(as_text=True)


def owes(order_id, as_of):
    return json.loads(cli("order", order_id, "--as-of", as_of, "--json").stdout)["balance"]


def test_one_transfer_seen_by_the_webhook_a_payments_file_and_the_statement_counts_once(shop):
    export = orders_file(shop / "orders.csv", row("M-1", "200.00"), row("M-2", "200.00", last="Roth"))
    cli("export", export, "--to", "generic", "--as-of", "2026-11-01", "-o", "handed.csv")  # a friendly reminder each
    # M-1: the same provider id in the webhook and the file, the statement's line with another id (the order in its text)
    assert webhook({"payment_id": "pi_9", "order_id": "M-1", "amount": "100.00", "currency": "EUR", "paid_at": "2026-11-03"},
                   date(2026, 11, 3)).status_code == 201
    (shop / "pay.csv").write_text("payment_id,order_id,paid_at,amount,currency\npi_9,M-1,2026-11-03,100.00,EUR\n"
                                  "tr_55,M-2,2026-11-04,100.00,EUR\n", "utf-8")
    cli("track", "payments", "pay.csv", "--as-of", "2026-11-05")
    # M-2: the webhook names another id than the file; the statement a third
    webhook({"payment_id": "pi_10", "order_id": "M-2", "amount": "100.00", "currency": "EUR", "paid_at": "2026-11-04"}, date(2026, 11, 4))
    statement(shop / "bank.xml", ("B1", "100.00", "credit", "2026-11-05", "Bestellung M-1", ""),
              ("B2", "100.00", "credit", "2026-11-06", "Bestellung M-2", ""))
    cli("track", "statement", "bank.xml", "--as-of", "2026-11-07")
    seen = looked(export, "2026-11-08")
    assert (seen["M-1"]["open_amount"], seen["M-2"]["open_amount"]) == ("100.00", "100.00")  # not 0.00, not -100.00
    assert owes("M-1", "2026-11-08")["paid"] == owes("M-2", "2026-11-08")["paid"] == "100.00"
    report = json.loads(cli("report", "--as-of", "2026-11-08", "--json").stdout)
    eur = report["by currency"][0]
    assert (eur["amount_reminded"], eur["amount_recovered"], eur["still_open"]) == ("400.00", "200.00", "200.00")
    story = json.loads(cli("order", "M-1", "--as-of", "2026-11-08", "--json").stdout)["events"]
    sightings = [e for e in story if e["event"] == "observation"]
    assert [(e["source"], e["status"]) for e in sightings] == [("webhook", "counted"), ("file:pay.csv", "counted"),
                                                              ("statement:bank.xml", "counted")]
    assert len({e["note"] for e in sightings}) == 1  # all three: the same movement
    assert 'id="open-now">€100.00<' in page("M-1", date(2026, 11, 8))


def test_a_statement_entry_before_its_order_and_a_return_before_its_order(shop):
    statement(shop / "early.xml", ("E1", "300.00", "credit", "2026-11-02", "Rechnung N-1", ""),
              ("E2", "34.95", "return", "2026-11-03", "R-1 Lastschrift", "<Refs><EndToEndId>R-1-OCT</EndToEndId></Refs>"))
    early = json.loads(cli("track", "statement", "early.xml", "--as-of", "2026-11-04", "--json").stdout)
    assert early["by_match"] == {"unmatched": 2} and early["new_payments"] == 0
    export = orders_file(shop / "orders.csv", row("N-1", "300.00"), row("R-1", "34.95", paid="34.95", status="paid"),
                         row("K-1", "50.00"))
    recorded = cli("overdue", export, "--as-of", "2026-11-10")
    assert "ledger:" in recorded.stderr
    seen = looked(export, "2026-11-10")
    assert "N-1" not in seen  # the early transfer found its order when the order arrived
    assert owes("N-1", "2026-11-10")["owed_now"] == "0.00"
    assert owes("R-1", "2026-11-10")["owed_now"] == "34.95"  # the shop says paid; the bank took it back
    not_dunned = {r["order_id"]: r["why"] for r in json.loads(cli("overdue", export, "--as-of", "2026-11-10", "--json", "--dry-run",
                                                                   "--not-dunned").stdout)}
    assert not_dunned.get("R-1") == "the shop marks the order as paid"  # listed, with why, not silently dropped
    again = json.loads(cli("track", "statement", "early.xml", "--as-of", "2026-11-11", "--json").stdout)
    assert again["new_payments"] == 0 and owes("N-1", "2026-11-11")["paid"] == "300.00"  # read again: changes nothing


def test_a_cumulative_payments_file_and_an_id_less_file_under_two_names(shop):
    export = orders_file(shop / "orders.csv", row("A-1", "150.00"))
    cli("overdue", export, "--as-of", "2026-11-01")
    (shop / "week1.csv").write_text("order_id,paid_at,amount\nA-1,2026-10-25,50.00\n", "utf-8")
    (shop / "week2.csv").write_text("order_id,paid_at,amount\nA-1,2026-10-25,50.00\nA-1,2026-11-01,50.00\n", "utf-8")
    first = json.loads(cli("track", "payments", "week1.csv", "--as-of", "2026-11-02", "--json").stdout)
    second = json.loads(cli("track", "payments", "week2.csv", "--as-of", "2026-11-02", "--json").stdout)
    (shop / "week2 (1).csv").write_bytes((shop / "week2.csv").read_bytes())
    renamed = json.loads(cli("track", "payments", "week2 (1).csv", "--as-of", "2026-11-02", "--json").stdout)
    assert (first["new"], second["new"], renamed["new"]) == (1, 1, 0)
    assert second["overpaid"] == [] and renamed["overpaid"] == []
    assert owes("A-1", "2026-11-02")["owed_now"] == "50.00"


def test_a_fee_exists_once_its_reminder_was_sent_and_is_paid_with_the_principal(shop):
    settings = shop / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace("skip_stages = false", "skip_stages = true")
                        .replace('# fee = { EUR = "5.00" }', 'fee = { EUR = "5.00" }'), "utf-8")
    export = orders_file(shop / "orders.csv", row("F-1", "80.00", due="2026-10-01"), row("F-2", "80.00", due="2026-10-01"))
    seen = looked(export, "2026-11-01")
    assert (seen["F-1"]["stage"], seen["F-1"]["fee"]) == ("final", "5.00")  # the fee this reminder would charge
    cli("overdue", export, "--as-of", "2026-11-01")  # a look that records: still no fee
    assert "Reminder fee (apart" not in page("F-1", date(2026, 11, 1)) and owes("F-1", "2026-11-01")["fees_open"] == "0.00"
    (shop / "campaigns" / "final.toml").write_text(
        'stage = "final"\nchannel = "outbox"\n[input]\nfile = "../orders.csv"\n[sender]\nfrom = "Shop <billing@shop.example>"\n')
    cli("campaign", "prepare", "final", "--as-of", "2026-11-02")
    assert owes("F-1", "2026-11-02")["fees_open"] == "0.00"  # prepared is not sent
    cli("campaign", "send", "final", "--send", "--as-of", "2026-11-02")
    assert owes("F-1", "2026-11-02")["fees_open"] == "5.00" and owes("F-1", "2026-11-02")["owed_now"] == "85.00"
    assert "Reminder fee (apart from the order): <strong>€5.00</strong>" in page("F-1", date(2026, 11, 3))
    assert 'id="open-now">€85.00<' in page("F-1", date(2026, 11, 3))
    (shop / "paid.csv").write_text("order_id,paid_at,amount\nF-1,2026-11-05,85.00\n", "utf-8")
    cli("track", "payments", "paid.csv", "--as-of", "2026-11-06")
    assert owes("F-1", "2026-11-06")["owed_now"] == "0.00" and "F-1" not in looked(export, "2026-11-06")
    # a transfer of exactly the principal, without a reference, is offered as probable
    statement(shop / "bank.xml", ("P1", "80.00", "credit", "2026-11-06", "Zahlung", ""))
    entries = json.loads(cli("track", "statement", "bank.xml", "--as-of", "2026-11-07", "--json").stdout)["listed"]
    assert [(e["matched_by"], e["order_id"]) for e in entries] == [("probable", "F-2")]
    assert json.loads(cli("actions", "--as-of", "2026-11-30", "--json").stdout)[0]["order_id"] == "F-2"  # F-1 is settled


def test_chargeback_then_repayment_a_refund_and_the_shop_saying_chargeback(shop):
    export = orders_file(shop / "orders.csv", row("C-1", "100.00"), row("C-2", "100.00", last="Roth"), row("C-3", "100.00", last="Lenz"))
    cli("overdue", export, "--as-of", "2026-11-01")
    for body in ({"payment_id": "p1", "order_id": "C-1", "amount": "100.00"}, {"payment_id": "p2", "order_id": "C-2", "amount": "100.00"},
                 {"payment_id": "p3", "order_id": "C-3", "amount": "100.00"}):
        assert webhook(body | {"currency": "EUR", "paid_at": "2026-11-02"}, date(2026, 11, 2)).status_code == 201
    assert webhook({"payment_id": "cb1", "order_id": "C-1", "amount": "100.00", "currency": "EUR", "paid_at": "2026-11-04",
                    "kind": "chargeback"}, date(2026, 11, 4)).status_code == 201
    (shop / "refunds.csv").write_text("payment_id,order_id,paid_at,amount,currency,kind\nrf1,C-3,2026-11-04,-30.00,EUR,refund\n", "utf-8")
    cli("track", "payments", "refunds.csv", "--as-of", "2026-11-05")
    assert (owes("C-1", "2026-11-05")["owed_now"], owes("C-3", "2026-11-05")["owed_now"]) == ("100.00", "30.00")
    statement(shop / "bank.xml", ("CB-AGAIN", "100.00", "credit", "2026-11-06", "C-1 erneut", ""))
    cli("track", "statement", "bank.xml", "--as-of", "2026-11-07")
    assert owes("C-1", "2026-11-07")["owed_now"] == "0.00"  # the old drop does not explain away the new payment
    # the shop's export says C-2 is paid, then charged back: a rise in what it says is open is money gone back
    orders_file(shop / "paid.csv", row("C-1", "100.00", "100.00", "paid"), row("C-2", "100.00", "100.00", "paid", last="Roth"),
                row("C-3", "100.00", "100.00", "paid", last="Lenz"))
    cli("track", "import", "paid.csv", "--as-of", "2026-11-08")
    assert owes("C-2", "2026-11-08")["owed_now"] == "0.00"  # the drop is the webhook's payment, counted once
    back = orders_file(shop / "back.csv", row("C-1", "100.00", "100.00", "paid"), row("C-2", "100.00", "0.00", "chargeback", last="Roth"),
                       row("C-3", "100.00", "100.00", "paid", last="Lenz"))
    cli("overdue", back, "--as-of", "2026-11-20")
    seen = looked(back, "2026-11-20")
    assert (seen["C-2"]["open_amount"], seen["C-2"]["reason"]) == ("100.00", "chargeback")


def test_a_return_with_the_banks_charge_reopens_only_the_customers_amount(shop):
    export = orders_file(shop / "orders.csv", row("D-1", "50.00"))
    cli("overdue", export, "--as-of", "2026-11-01")
    statement(shop / "bank.xml",
              ("IN1", "50.00", "credit", "2026-11-02", "D-1", "<Refs><EndToEndId>D-1-NOV</EndToEndId></Refs>"),
              ("RT1", "53.00", "return", "2026-11-09", "D-1 Ruecklastschrift",
               '<Refs><EndToEndId>D-1-NOV</EndToEndId></Refs><AmtDtls><InstdAmt><Amt Ccy="EUR">50.00</Amt></InstdAmt>'
               '<TxAmt><Amt Ccy="EUR">53.00</Amt></TxAmt></AmtDtls><Chrgs><Rcrd><Amt Ccy="EUR">3.00</Amt></Rcrd></Chrgs>'))
    cli("track", "statement", "bank.xml", "--as-of", "2026-11-10")
    assert owes("D-1", "2026-11-10")["owed_now"] == "50.00"  # not 53.00: the bank's charge is the merchant's cost


def test_every_command_agrees_on_what_is_open_and_still_reads_after_a_decision(shop):
    export = orders_file(shop / "orders.csv", row("G-1", "120.00"), row("G-2", "80.00", last="Roth"), row("G-3", "60.00", last="Lenz"))
    handed = json.loads(cli("export", export, "--to", "brevo", "--as-of", "2026-11-01", "-o", "brevo.csv", "--json").stdout)
    assert handed["reminders_recorded"] == 3
    webhook({"payment_id": "w1", "order_id": "G-1", "amount": "20.00", "currency": "EUR", "paid_at": "2026-11-03"}, date(2026, 11, 3))
    (shop / "p.csv").write_text("order_id,paid_at,amount\nG-2,2026-11-04,30.00\n", "utf-8")
    cli("track", "payments", "p.csv", "--as-of", "2026-11-05")
    expected = {"G-1": "100.00", "G-2": "50.00", "G-3": "60.00"}
    seen = looked(export, "2026-11-20")
    assert {o: r["open_amount"] for o, r in seen.items()} == expected
    assert all(f'id="open-now">€{v}<' in page(o, date(2026, 11, 20)) for o, v in expected.items())
    assert {o: owes(o, "2026-11-20")["owed_now"] for o in expected} == expected
    still = {r["order_id"]: r["still_open"] for r in json.loads(cli("track", "open", "--as-of", "2026-11-20", "--json").stdout)}
    assert still == expected
    report = json.loads(cli("report", "--as-of", "2026-11-20", "--json").stdout)
    assert report["headline"][0]["still_open"] == "210.00" and report["headline"][0]["recovered"] == "50.00"
    cli("actions", "decide", "G-3", "--as", "written_off", "--as-of", "2026-11-21")
    without = orders_file(shop / "without.csv", row("G-1", "120.00"), row("G-2", "80.00", last="Roth"))
    for command in (["overdue", without, "--as-of", "2026-11-22", "--dry-run", "--json"], ["overdue", without, "--as-of", "2026-11-22"],
                    ["export", without, "--to", "generic", "--as-of", "2026-11-22", "-o", "later.csv"], ["track", "import", without]):
        cli(*command)
    report = json.loads(cli("report", "--as-of", "2026-11-22", "--json").stdout)
    assert report["headline"][0]["closed"] == report["closed by you"][0]["amount"] == "60.00"


def test_an_export_handed_over_a_slice_at_a_time_records_and_charges_each_order_once(shop, monkeypatch, database_url):
    monkeypatch.setattr("dunning.handover.HAND_OVER_SLICE", 2)  # three orders: two slices
    settings = shop / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace("skip_stages = false", "skip_stages = true")
                        .replace('# fee = { EUR = "5.00" }', 'fee = { EUR = "5.00" }'), "utf-8")
    export = orders_file(shop / "orders.csv", *(row(f"S-{n}", "80.00", due="2026-10-01") for n in (1, 2, 3)))
    for _ in range(2):  # the second export the same day hands over nothing again and charges nothing twice
        cli("export", export, "--as-of", "2026-11-01", "--to", "generic", "-o", shop / "handed.csv", "--force")
        for n in (1, 2, 3):
            assert (owes(f"S-{n}", "2026-11-02")["fees_open"], owes(f"S-{n}", "2026-11-02")["owed_now"]) == ("5.00", "85.00")
    assert sorted(Store(database_url).frame(reminders, ["order_id"])["order_id"]) == ["S-1", "S-2", "S-3"]


def _run_in_parts(folder, database_url, monkeypatch, size, whole_table=20_000):
    """A history in a workspace of its own, run in partitions of `size` orders, the ledger's tables read whole when a
    partition asks for more than `whole_table` rows and a quarter of them: what every command then says."""
    monkeypatch.setattr("dunning.pipeline.PARTITION_ORDERS", size)
    monkeypatch.setattr("dunning.journal.recording.WHOLE_TABLE", whole_table)
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    cli("init", folder)
    monkeypatch.chdir(folder)
    statement(folder / "early.xml", ("E1", "120.00", "credit", "2026-10-28", "Rechnung P-5", ""))
    cli("track", "statement", "early.xml", "--as-of", "2026-10-29")  # before its order: waiting
    rows = [row(f"P-{n}", "120.00", paid=paid, last=f"Name{n}", due=due) for n, paid, due in
            [(1, "0.00", "2026-10-01"), (2, "20.00", "2026-10-10"), (3, "0.00", "2026-10-20"), (4, "120.00", "2026-10-01"),
             (5, "0.00", "2026-10-05"), (6, "0.00", "2026-10-10"), (7, "60.00", "2026-10-01")]]
    export = orders_file(folder / "orders.csv", *rows)
    (folder / "pay.csv").write_text("payment_id,order_id,paid_at,amount,currency\npi_7,P-7,2026-12-01,5.00,EUR\n"  # future
                                    "pi_1,P-1,2026-10-20,30.00,EUR\npi_3,P-3,2026-10-25,120.00,EUR\npi_6,P-6,2026-10-26,50.00,EUR\n"
                                    "pi_9,Z-9,2026-10-26,10.00,EUR\npi_2,P-2,2026-10-26,10.00,CHF\n", "utf-8")  # another currency
    first = cli("overdue", orders_file(folder / "first.csv", *rows, row("P-8", "120.00", paid="120.00", status="paid")),
                "--payments", "pay.csv", "--as-of", "2026-11-01", "--rejects", "refused.csv")
    rows[1] = row("P-2", "120.00", paid="70.00", last="Name2", due="2026-10-10")  # the shop saw 50.00 more
    export = orders_file(folder / "orders.csv", *rows)  # P-8 is no longer in it, yet a payment for it comes
    (folder / "pay2.csv").write_text((folder / "pay.csv").read_text("utf-8") + "pi_8,P-8,2026-11-02,5.00,EUR\n", "utf-8")
    cli("export", export, "--payments", "pay2.csv", "--to", "generic", "--as-of", "2026-11-03", "-o", "handed.csv")
    store = Store(database_url)
    seen = [{k: v for k, v in r.items() if k not in ("token", "manage_url")}
            for r in json.loads(cli("overdue", export, "--as-of", "2026-11-04", "--json", "--dry-run").stdout)]
    aside = json.loads(cli("overdue", export, "--as-of", "2026-11-04", "--json", "--dry-run", "--not-dunned").stdout)
    return {
        "said": first.stderr.splitlines(), "refused": (folder / "refused.csv").read_text("utf-8"), "overdue": seen,
        "not_dunned": aside,
        "handed": [{k: v for k, v in r.items() if k not in ("token", "manage_url")}  # signed at another second
                   for r in csv.DictReader(io.StringIO((folder / "handed.csv").read_text("utf-8")))],
        "balances": {f"P-{n}": owes(f"P-{n}", "2026-11-04") for n in range(1, 9)},
        "observations": sorted(map(tuple, observed(store)[["source", "order_id", "kind", "amount", "status"]].astype(str).values)),
        "reminded": sorted(store.frame(reminders, ["order_id"])["order_id"]),
    }


def test_a_run_in_partitions_of_orders_records_and_judges_what_one_run_does(tmp_path, monkeypatch, database_url):
    whole = _run_in_parts(tmp_path / "whole", f"sqlite:///{tmp_path / 'whole.sqlite3'}", monkeypatch, 100_000)
    by_key = _run_in_parts(tmp_path / "by_key", f"sqlite:///{tmp_path / 'by_key.sqlite3'}", monkeypatch, 2)
    parts = _run_in_parts(tmp_path / "parts", database_url, monkeypatch, 2, whole_table=1)  # the early ones read tables whole
    assert by_key == parts == whole  # eight orders, then seven: four partitions each
    assert parts["said"][0] == "first.csv: 8 rows, 8 accepted, 0 rejected; pay.csv: 6 rows, 4 accepted, 2 rejected"
    assert parts["said"][-1] == ("ledger: 3 new payments, 4 changes in what the export says is paid, 8 new orders, "
                                 "1 payments for orders not known yet (kept)")
    assert [line.split(",")[1:3] for line in parts["refused"].splitlines()[1:]] == [["2", "paid_at"], ["7", "currency"]]
    assert [r["order_id"] for r in parts["handed"]] == ["P-1", "P-7", "P-2", "P-6"]  # by days overdue, then id, across partitions
    assert [r["open_amount"] for r in parts["handed"]] == ["90.00", "60.00", "50.00", "70.00"]
    assert parts["overdue"] == [] and [r["order_id"] for r in parts["not_dunned"]] == ["P-1", "P-2", "P-6", "P-7"]  # the cooldown
    assert {o: b["paid"] for o, b in parts["balances"].items()} == {
        "P-1": "30.00", "P-2": "70.00", "P-3": "120.00", "P-4": "120.00", "P-5": "120.00", "P-6": "50.00", "P-7": "60.00",
        "P-8": "120.00"}
    assert [o for o in parts["observations"] if o[1] in ("P-5", "P-8", "Z-9")] == [  # waiting: taken once, by its own partition
        ("export", "P-8", "opening", "12000", "counted"), ("file", "P-8", "payment", "500", "counted"),
        ("file", "Z-9", "payment", "1000", "unmatched"), ("statement", "P-5", "payment", "12000", "counted")]
    assert parts["reminded"] == ["P-1", "P-2", "P-6", "P-7"]
