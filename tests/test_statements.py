"""Bank statements: camt.053 from a German and a Swiss bank and MT940, matched to the ledger's orders and recorded
once, through the CLI, on SQLite and PostgreSQL; then the page, `overdue` and the report see the payments."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning import config, statements
from dunning.cli import app
from dunning.errors import InputError
from dunning.journal.store import Store
from dunning.journal.tables import statement_entries
from tests.conftest import observed

DATA = Path(__file__).parent / "data" / "statements"
AS_OF, LATER = "2026-11-20", "2026-11-27"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def ledger(examples, signing_key, database_url, monkeypatch):
    """The demo's ledger: the plans with their payments file and the German shop's export, looked at on 20 November."""
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    assert run("overdue", examples / "plans.csv", "--payments", examples / "payments.csv", "--as-of", AS_OF).exit_code == 0
    assert run("overdue", examples / "orders_elopage.csv", "--profile", "elopage", "--as-of", AS_OF).exit_code == 0
    return Store(database_url)


def seen(store):
    """The statement's observations in the journal, by the bank's reference of their entry."""
    paid = observed(store)
    refs = store.frame(statement_entries, ["entry_ref", "bank_ref"]).set_index("entry_ref")["bank_ref"]
    paid = paid[paid["source"] == "statement"]
    return paid.set_index(paid["source_key"].map(refs))


def imported(path, *options):
    result = run("track", "statement", path, "--as-of", LATER, "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def outcomes(summary):
    """How each entry matched, by the bank's reference (the transactions of one batch entry numbered in turn)."""
    listed = summary["listed"]
    shared = Counter(e["bank_ref"] for e in listed)
    turn = Counter()
    found = {}
    for e in listed:
        turn[e["bank_ref"]] += 1
        found[e["bank_ref"] if shared[e["bank_ref"]] == 1 else f"{e['bank_ref']}-{turn[e['bank_ref']]}"] = (e["matched_by"], e["order_id"])
    return found


def test_a_german_camt053_pays_orders_by_reference_and_by_id(ledger, examples):
    summary = imported(examples / "statement_germany.camt053.xml")
    assert outcomes(summary) == {
        "2026112600001": ("reference", "P-2008"),      # the RF creditor reference in the form pages showed before
        "2026112600002": ("order_id", "E-10421"),      # "Rechnung E-10421 ..." in the text
        "2026112600003": ("probable", "E-10423"),      # 89.00 from Sophie Dubois, no reference: to confirm
        "2026112600004": ("unmatched", ""),            # a donation
        "2026112600005": ("debit", ""),                # the bank's fee
        "2026112600006": ("order_id", "P-2003"),       # a returned direct debit (AM04)
        "2026112600007-1": ("order_id", "E-10422"),    # a batch entry, split per transaction
        "2026112600007-2": ("reference", "P-2006"),
    }
    assert (summary["new_entries"], summary["new_payments"]) == (8, 5)
    paid = seen(ledger)
    assert paid.loc["2026112600001", ["order_id", "amount", "currency", "status"]].tolist() == ["P-2008", 11940, "EUR", "counted"]
    assert paid.loc["2026112600006", ["amount", "kind", "note"]].tolist() == [-12000, "return", "return AM04"]
    assert paid.loc["2026112600003", "status"] == "review"  # probable is never counted before the merchant confirms it
    assert paid.loc["2026112600004", "status"] == "unmatched"  # kept: matched again when the ledger learns of new orders
    again = imported(examples / "statement_germany.camt053.xml")
    assert (again["new_entries"], again["new_payments"]) == (0, 0)
    assert len(seen(ledger)) == len(paid)


def test_paid_by_statement_is_paid_on_the_page_in_overdue_and_in_the_report(ledger, examples, tmp_path):
    from dunning.tokens import TokenSigner, keys_from_env
    from dunning.web import create_app

    handed = run("export", examples / "plans.csv", "--to", "generic", "-o", tmp_path / "x.csv", "--as-of", AS_OF)
    assert handed.exit_code == 0, handed.output  # the hand-over: a friendly reminder each, the report's base
    imported(examples / "statement_germany.camt053.xml")
    overdue = json.loads(run("overdue", examples / "plans.csv", "--as-of", LATER, "--json", "--dry-run").stdout)
    still = {o["order_id"] for o in overdue}
    assert "P-2008" not in still and "P-2006" not in still and "P-2003" in still
    token = TokenSigner(keys_from_env()).sign("P-2008")
    page = create_app(config.load(), store=ledger, environ={"DUNNING_SECRET_KEYS": keys_from_env()[0]}).test_client().get(
        f"/m/{token}?lang=en").get_data(as_text=True)
    assert 'id="status">Thank you: nothing is open' in page
    report = json.loads(run("report", "--as-of", LATER, "--json").stdout)
    euro = next(r for r in report["by campaign"] if r["currency"] == "EUR")
    # P-2008 119.40 and P-2006 480.00 came in; P-2003's returned 120.00 direct debit counts against it
    assert (euro["amount_recovered"], euro["fully_paid"]) == ("479.40", 2)


def test_a_probable_match_counts_once_confirmed(ledger, examples):
    imported(examples / "statement_germany.camt053.xml")
    assert run("track", "confirm", "2026112600003", "--as-of", LATER).exit_code == 0
    assert seen(ledger).loc["2026112600003", ["order_id", "amount", "status"]].tolist() == ["E-10423", 8900, "counted"]
    twice = run("track", "confirm", "2026112600003", "--as-of", LATER)
    assert twice.exit_code == 2 and "not a probable match" in twice.stderr
    assert run("track", "confirm", "2026112600004").exit_code == 2


def test_a_swiss_statement_pays_by_qr_reference(ledger, examples):
    summary = imported(examples / "statement_switzerland.camt053.xml")
    assert outcomes(summary) == {"ZKB20261126A1": ("reference", "E-10430"), "ZKB20261126A2": ("unmatched", "")}
    assert seen(ledger).loc["ZKB20261126A1", "amount"] == 15900


def test_an_mt940_statement_from_a_german_bank(ledger):
    summary = imported(DATA / "germany.mt940.sta")
    found = sorted(outcomes(summary).values())
    assert found == sorted([("reference", "P-2001"), ("order_id", "E-10421"), ("unmatched", ""), ("order_id", "P-2003"),
                            ("debit", "")])
    returned = next(e for e in summary["listed"] if e["order_id"] == "P-2003")
    assert (returned["direction"], returned["reason_code"], returned["bank_ref"]) == ("return", "AM04", "B6K26RET00001")
    again = imported(DATA / "germany.mt940.sta")
    assert (again["new_entries"], again["new_payments"]) == (0, 0) and outcomes(again) == outcomes(summary)


def test_the_listing_as_csv(ledger, examples, tmp_path):
    imported(examples / "statement_germany.camt053.xml", "--csv", tmp_path / "entries.csv")
    text = (tmp_path / "entries.csv").read_text("utf-8")
    assert text.splitlines()[0].startswith("entry_ref,bank_ref,booked_on,direction,amount")
    assert "Spende Sommerfest" in text and oct((tmp_path / "entries.csv").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("content, message", [
    (b"hello", "not a bank statement"),
    (b"<Document><Other/></Document>", "without a statement"),
    (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Document>&b;</Document>',
     "not a readable camt file"),
    (b":20:X\n:25:123\n:28C:1\n:60F:C261120EUR0,\n:61:26112X1126C5,00NTRF\n:62F:C261126EUR5,\n-\n",
     r"not a readable MT940 statement \(Unable to parse a statement from '26112X"),
])
def test_a_bad_statement_is_one_sentence(tmp_path, content, message):
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        statements.read(path)
    result = run("track", "statement", path)
    assert result.exit_code == 2 and "bad.xml" in result.stderr and "Traceback" not in result.output
    assert "object at 0x" not in result.stderr and "(?P<" not in result.output and len(result.stderr.splitlines()) == 1


def camt(*entries: str) -> bytes:
    """A camt.053 statement of one account with these entries (amount, direction, text)."""
    return ("<Document><BkToCstmrStmt><Stmt><Id>S1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>"
            + "".join(entries) + "</Stmt></BkToCstmrStmt></Document>").encode()


def entry(amount: str, text: str, day: str = "2026-11-25", ref: str = "NONREF", direction: str = "CRDT",
          currency: str = "EUR") -> str:
    return (f"<Ntry><NtryRef>1</NtryRef><Amt Ccy='{currency}'>{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls>"
            f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>")


def test_an_amount_no_bank_writes_is_listed_as_refused_and_the_rest_is_counted(ledger, tmp_path):
    path = tmp_path / "odd.xml"
    odd = ["abc", "1e2", "Infinity", "1E+30", "12345678901234567890", "-25.00", "0.00", "5.001"]
    path.write_bytes(camt(*[entry(a, f"P-2008 {n}") for n, a in enumerate(odd)], entry("119.40", "P-2008")))
    summary = imported(path)
    refused = [e for e in summary["listed"] if e["matched_by"] == "refused"]
    assert len(refused) == len(odd) and summary["new_payments"] == 1
    assert {e["note"].split(" ")[0] for e in refused} >= {"'abc'", "'1e2'", "'Infinity'", "'-25.00'", "an", "5.001"}


def test_a_reference_a_bank_reuses_on_another_day_is_another_entry(ledger, tmp_path):
    first, second = tmp_path / "day1.xml", tmp_path / "day2.xml"
    first.write_bytes(camt(entry("119.40", "Rechnung P-2008", day="2026-11-24")))
    second.write_bytes(camt(entry("480.00", "Rechnung P-2006", day="2026-11-25")))
    assert imported(first)["new_payments"] == 1
    assert imported(second)["new_payments"] == 1  # NONREF and NtryRef 1 again: another payment all the same


def test_overlapping_downloads_count_the_shared_day_once(ledger, tmp_path):
    day10, day11, day12 = (entry("10.00", "Spende", day="2026-11-10"), entry("10.00", "Spende", day="2026-11-11"),
                           entry("10.00", "Spende", day="2026-11-12"))
    (tmp_path / "a.xml").write_bytes(camt(day10, day11, day11))  # the same gift twice on the 11th: two entries
    (tmp_path / "b.xml").write_bytes(camt(day11, day11, day12))
    assert imported(tmp_path / "a.xml")["new_entries"] == 3
    assert imported(tmp_path / "b.xml")["new_entries"] == 1


def test_the_same_reference_twice_in_one_file_is_two_entries(ledger, tmp_path):
    path = tmp_path / "both.xml"
    path.write_bytes(camt(entry("119.40", "P-2008", ref="B1"), entry("480.00", "P-2006", ref="B1")))
    summary = imported(path)
    assert (summary["new_entries"], summary["new_payments"]) == (2, 2)


def test_dates_and_counts_in_the_text_are_no_order_ids(tmp_path):
    import pandas as pd

    from dunning.statements.matching import Matcher

    orders = pd.DataFrame({"order_id": ["1911", "1324", "100", "20458", "E-10421", "E-10422"], "order_key": range(6),
                           "last_name": [""] * 6, "currency": ["EUR"] * 6,
                           "due_open": [5000, 5000, 3000, 2990, 9900, 4000], "owed_now": [5000, 5000, 3000, 2990, 9900, 4000]})
    texts = {"Zahlung vom 19.11.": 5000, "Ueberweisung 13.24 UHR": 5000, "Abo Beitrag 100 Tage": 3000,
             "Bestellung 20458": 2990, "Bestellung 20458 Teil 1": 1000, "Rechnung E-104 21": 9900,
             "E-10421 und E-10422": 13000, "E-10421 und E-10422 zusammen": 9900 + 4000, "Rechnung E-10421 Rest": 5000,
             "Rechnung E-10421 und mehr": 20000}
    entries = pd.DataFrame({"reference": "", "remittance": list(texts), "amount": list(texts.values()),
                            "direction": "credit", "currency": "EUR", "payer": ""})
    found = Matcher(orders).match(entries)
    assert list(zip(found["matched_by"], found["order_id"])) == [
        ("unmatched", ""), ("unmatched", ""), ("unmatched", ""),  # a date, a time, a count of three digits
        ("order_id", "20458"),    # the amount agrees: certain
        ("probable", "20458"),    # digits alone and another amount: for the merchant to confirm
        ("order_id", "E-10421"),  # split where the bank's text field ended
        ("unmatched", ""),        # two orders, not what they owe together: for the merchant to assign
        ("split", "E-10421, E-10422"),  # two orders, exactly what they owe: each gets its part
        ("order_id", "E-10421"),  # a part of what an id with letters owes: certain
        ("probable", "E-10421")]  # more than it owes: for the merchant to confirm
    assert found["note"].iloc[-4].startswith("names orders E-10421, E-10422")
    assert found["parts"].iloc[-3] == [("E-10421", 9900), ("E-10422", 4000)]


def test_two_imports_at_once_record_each_entry_once(ledger, examples, database_url, tmp_path):
    command = [sys.executable, "-m", "dunning", "track", "statement", str(examples / "statement_germany.camt053.xml"),
               "--as-of", LATER, "--json"]
    env = {**__import__("os").environ, "DUNNING_DATABASE_URL": database_url}
    runs = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    answers = [json.loads(p.communicate()[0]) for p in runs]
    assert all(p.returncode == 0 for p in runs)
    assert sum(a["new_entries"] for a in answers) == 8 and sum(a["new_payments"] for a in answers) == 5
    assert len(ledger.frame(statement_entries, ["entry_ref"])) == 8


def test_a_swiss_order_shows_a_qr_bill_until_the_statement_pays_it(ledger, examples):
    from dunning.bank import qr_reference, readable_reference
    from dunning.tokens import TokenSigner, keys_from_env
    from dunning.web import create_app

    settings = config.load()
    account = {"iban": "CH4431999123000889012", "beneficiary": "Beispiel GmbH", "street": "Bahnhofstrasse",
               "house_number": "1", "postal_code": "8001", "city": "Zürich"}
    swiss = config.Settings({**settings.data, "payment": {"accounts": {"CHF": account}}}, settings.root, settings.source)
    client = create_app(swiss, store=ledger, environ={"DUNNING_SECRET_KEYS": keys_from_env()[0]}).test_client()
    url = f"/m/{TokenSigner(keys_from_env()).sign('E-10430')}?lang=de"
    before = client.get(url).get_data(as_text=True)
    assert 'id="qr-bill"' in before and readable_reference(qr_reference("E-10430")) in before and "159,00" in before
    imported(examples / "statement_switzerland.camt053.xml")
    after = client.get(url).get_data(as_text=True)
    assert 'id="qr-bill"' not in after and 'class="settled" id="status"' in after


def test_a_swiss_account_needs_the_address_its_qr_bill_shows():
    from dunning.bank import accounts

    with pytest.raises(InputError, match=r"\[payment.accounts.CHF\] a Swiss QR-bill shows the beneficiary's address"):
        accounts({"accounts": {"CHF": {"iban": "CH4431999123000889012"}}}, "Shop")


def test_a_camt054_notification_in_an_older_version_with_a_spaced_qr_reference(ledger):
    summary = imported(DATA / "switzerland.camt054.xml")
    assert outcomes(summary) == {"PF20261126000417": ("reference", "E-10430")}  # the pending entry is not money yet
    assert summary["listed"][0]["payer"] == "Lukas Wagner"


@pytest.mark.parametrize("field, value", [("house_number", "12345678901234567"), ("city", "C" * 36), ("city", "Zürich 😀")])
def test_a_swiss_address_the_qr_bill_cannot_carry_is_refused_when_the_settings_are_read(field, value):
    from dunning.bank import accounts

    account = {"iban": "CH4431999123000889012", "street": "Bahnhofstrasse", "house_number": "1", "postal_code": "8001",
               "city": "Zürich", field: value}
    with pytest.raises(InputError, match=rf"\[payment\] {field} = .*at most"):
        accounts({**account, "currency": "CHF"}, "Shop")


def test_characters_a_qr_bill_does_not_permit_are_spelt_in_latin_or_left_out():
    from decimal import Decimal

    from dunning.bank import Account, swiss_qr_bill_svg

    account = Account("Beispiel GmbH", "CH4431999123000889012", "", (("postal_code", "8001"), ("city", "Zürich")))
    svg = swiss_qr_bill_svg(account, Decimal("42.00"), "CHF", "注文-42 № 😀", 1, "de")
    assert "No" in svg and "注文" not in svg and "😀" not in svg


def test_entries_a_ledger_stored_under_their_bank_reference_are_not_counted_again(ledger):
    import sqlalchemy as sa

    from dunning.journal.tables import observations

    first = imported(DATA / "germany.mt940.sta")
    with ledger.engine.begin() as db:  # as the ledger held them before entries had identities: keyed by bank reference
        for e in first["listed"]:
            if e["bank_ref"]:
                db.execute(observations.update().where(observations.c.source_key == e["entry_ref"]).values(source_key=e["bank_ref"]))
                db.execute(statement_entries.update().where(statement_entries.c.entry_ref == e["entry_ref"])
                           .values(entry_ref=e["bank_ref"]))
    again = imported(DATA / "germany.mt940.sta")
    assert (again["new_entries"], again["new_payments"]) == (0, 0)


def test_a_reference_is_one_orders_even_where_ids_end_alike():
    import pandas as pd

    from dunning.bank import creditor_reference, earlier_creditor_reference
    from dunning.statements.matching import Matcher

    ids = ["1886-SUBSCRIPTION-RENEWAL-DE", "2348-SUBSCRIPTION-RENEWAL-DE"]  # one reference in the earlier form
    shared = earlier_creditor_reference(ids[0])
    assert shared == earlier_creditor_reference(ids[1]) == "RF28CRIPTIONRENEWALDE0WG8"
    orders = pd.DataFrame({"order_id": ids, "order_key": [7, 8], "last_name": "", "currency": "EUR",
                           "due_open": 1000, "owed_now": 1000})
    texts = [shared, creditor_reference(ids[1], 8), creditor_reference(ids[0], 7)]
    entries = pd.DataFrame({"reference": texts, "remittance": "Abo", "amount": 1000, "direction": "credit",
                            "currency": "EUR", "payer": ""})
    found = Matcher(orders).match(entries)
    assert list(zip(found["matched_by"], found["order_id"])) == [("unmatched", ""), ("reference", ids[1]),
                                                                 ("reference", ids[0])]


def test_the_reference_the_page_shows_pays_its_order(ledger, tmp_path):
    from tests.conftest import reference_of

    path = tmp_path / "page.xml"
    path.write_bytes(camt(entry("119.40", f"Kurs {reference_of(ledger, 'P-2008')}")))
    summary = imported(path)
    assert [(e["matched_by"], e["order_id"]) for e in summary["listed"]] == [("reference", "P-2008")]


def test_one_transfer_for_two_orders_pays_each_what_it_owed_once(ledger, examples, tmp_path):
    path = tmp_path / "both.xml"
    path.write_bytes(camt(entry("599.40", "Rechnungen P-2008 und P-2006")))
    summary = imported(path)
    assert [(e["matched_by"], e["order_id"]) for e in summary["listed"]] == [("split", "P-2006, P-2008")]
    assert summary["new_payments"] == 2
    paid = seen(ledger)
    assert sorted(zip(paid["order_id"], paid["amount"], paid["status"])) == [("P-2006", 48000, "counted"),
                                                                            ("P-2008", 11940, "counted")]
    assert imported(path)["new_payments"] == 0
    overdue = json.loads(run("overdue", examples / "plans.csv", "--as-of", LATER, "--json", "--dry-run").stdout)
    assert not {"P-2006", "P-2008"} & {o["order_id"] for o in overdue}


def test_reversals_and_dates_as_banks_write_them(tmp_path):
    mt940 = tmp_path / "reversal.sta"
    mt940.write_text(":20:X\n:25:10020030/1234567\n:28C:1\n:60F:C261120EUR100,00\n"
                     ":61:2611261126RD1027,25NMSCNONREF//S1\n:86:808?00STORNO ENTGELT?20P-2001\n"
                     ":62F:C261126EUR1127,25\n-\n", encoding="latin-1")
    assert statements.read(mt940)[["direction", "amount"]].values.tolist() == [["reversal", 102725]]  # a fee taken back
    camt_file = tmp_path / "offset.xml"
    camt_file.write_bytes(camt(entry("10.00", "P-2001", day="2017-04-01+02:00"),
                               entry("5.00", "fee back").replace("<CdtDbtInd>", "<RvslInd>true</RvslInd><CdtDbtInd>")))
    read = statements.read(camt_file)
    assert [str(d) for d in read["booked_on"]] == ["2017-04-01", "2026-11-25"]
    assert read["direction"].tolist() == ["credit", "reversal"]


def test_a_swiss_account_in_the_main_payment_table_takes_its_address(tmp_path):
    (tmp_path / "dunning.toml").write_text(
        '[shop]\nname = "Beispiel GmbH"\n[payment]\niban = "CH4431999123000889012"\ncurrency = "CHF"\n'
        'street = "Bahnhofstrasse"\nhouse_number = "1"\npostal_code = "8001"\ncity = "Zürich"\n', "utf-8")
    from dunning.bank import accounts

    settings = config.load(tmp_path / "dunning.toml")
    assert accounts(settings.data["payment"], "Shop")["CHF"].address[-1] == ("city", "Zürich")


def test_a_transfer_for_two_orders_in_another_currency_is_never_split(ledger, tmp_path):
    path = tmp_path / "francs.xml"
    path.write_bytes(camt(entry("599.40", "Rechnungen P-2008 und P-2006", currency="CHF")))
    summary = imported(path)
    [listed] = summary["listed"]
    assert listed["matched_by"] == "unmatched" and listed["note"].startswith("names orders P-2006, P-2008")
    assert summary["new_payments"] == 0
