"""Bank statements as banks write them (tests/data/statements/SOURCES.md): every file is read, its entries add up
to what the file says of itself, and however it is downloaded (whole, split by day, overlapping) each entry is counted
once."""
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning import statements
from dunning.cli import app
from dunning.money import to_decimal
from dunning.statements.entries import CREDIT, RETURN, REVERSAL
from tests.statement_balances import balance_change

DATA = Path(__file__).parent / "data" / "statements"
runner = CliRunner()

# credits, debits, returns, reversals, refused: counted by hand from each file's :61: lines and camt entries
HOLDS = {
    "ch-notification.camt054v4.xml": (0, 3, 0, 0, 0),
    "ch-postfinance.mt940": (3, 1, 0, 0, 0),
    "ch-uetr.camt054v8.xml": (0, 1, 0, 0, 0),
    "de-commerzbank-sepa.mt940": (24, 54, 2, 17, 0),  # 17 of its credits are its own transfers coming back (GVC 159)
    "de-commerzbank-snippet.mt940": (5, 2, 1, 3, 0),
    "de-gv-codes.mt940": (0, 2, 0, 0, 0),
    "de-raphaelm.mt940": (8, 1, 0, 0, 0),
    "de-return-details.mt940": (0, 1, 0, 0, 0),  # GVC 105 with ?34: an ordinary debit, no return
    "de-sparkasse-multicurrency.mt940": (7, 9, 0, 0, 0),
    "de-wirecard.mt940": (3, 1, 0, 0, 0),
    "de-wrapped-details.mt940": (0, 1, 0, 0, 0),
    "germany.mt940.sta": (3, 1, 1, 0, 0),
    "hu-raiffeisen.mt940": (1, 6, 0, 0, 0),  # three debits in fillér: ISO 4217 gives HUF two decimals
    "hu-sberbank.mt940": (0, 3, 0, 0, 0),
    "ie-danske.camt052v1.xml": (0, 1, 0, 0, 0),
    "ie-danske.camt052v8.xml": (0, 1, 0, 0, 0),
    "ie-danske.camt053v3.xml": (1, 0, 0, 0, 0),
    "ie-danske.camt053v8.xml": (1, 0, 0, 0, 0),
    "nl-abnamro.mt940": (0, 10, 0, 0, 0),
    "nl-asn.mt940": (3, 5, 0, 0, 0),
    "nl-ing.mt940": (2, 5, 0, 0, 0),
    "nl-knab.mt940": (2, 1, 0, 0, 0),
    "nl-multi.camt053v2.xml": (1, 1, 0, 0, 0),
    "nl-rabobank-iban.mt940": (0, 4, 0, 0, 0),
    "nl-rabobank.mt940": (0, 4, 1, 0, 0),
    "nl-report.camt052v2.xml": (0, 1, 0, 0, 0),
    "nl-sns.mt940": (0, 2, 0, 0, 0),
    "nl-triodos.mt940": (0, 2, 0, 0, 0),
    "pl-mbank-wrapped.mt940": (2, 0, 0, 0, 0),
    "pl-mbank.mt940": (3, 0, 0, 0, 0),
    "se-notification.camt054v2.xml": (0, 3, 0, 0, 0),
    "switzerland.camt054.xml": (1, 0, 0, 0, 0),
}
# files whose own opening and closing balances agree with their entries (the others were edited by hand when published)
BALANCED = ["de-commerzbank-sepa.mt940", "de-sparkasse-multicurrency.mt940", "de-wirecard.mt940", "de-wrapped-details.mt940",
            "germany.mt940.sta", "hu-sberbank.mt940", "nl-asn.mt940", "nl-multi.camt053v2.xml", "nl-rabobank-iban.mt940",
            "nl-sns.mt940", "pl-mbank.mt940"]


def test_the_corpus_is_what_sources_md_lists():
    listed = set(re.findall(r"^\| ([\w.-]+) \|", (DATA / "SOURCES.md").read_text(), re.MULTILINE)) - {"File"}
    assert listed == set(HOLDS) == {p.name for p in DATA.iterdir() if p.name != "SOURCES.md"}
    banks = {name.split(".")[0] for name in HOLDS}
    assert len(HOLDS) >= 30 and len({b.split("-")[0] for b in banks}) >= 4


@pytest.mark.parametrize("name", sorted(HOLDS))
def test_every_file_is_read_with_what_it_holds(name):
    entries = statements.read(DATA / name)
    counts = entries["direction"].value_counts()
    refused = int((entries["problem"] != "").sum())
    assert (counts.get("credit", 0), counts.get("debit", 0), counts.get(RETURN, 0), counts.get(REVERSAL, 0), refused) == HOLDS[name]
    assert entries["entry_ref"].is_unique
    assert (entries.loc[entries["problem"] == "", "amount"] > 0).all()


@pytest.mark.parametrize("name", BALANCED)
def test_the_entries_add_up_to_the_change_of_balance_the_file_states(name):
    entries = statements.read(DATA / name)
    moved: dict[str, Decimal] = {}
    for entry in entries.itertuples():
        sign = 1 if entry.direction in (CREDIT, REVERSAL) else -1
        moved[entry.currency] = moved.get(entry.currency, Decimal(0)) + sign * to_decimal(entry.amount + entry.charges, entry.currency)
    assert moved == {c: v for c, v in balance_change(DATA / name).items() if v or c in moved}


def test_texts_and_names_from_the_banks_own_forms():
    asn = statements.read(DATA / "nl-asn.mt940")
    assert asn["remittance"].iloc[0].startswith("NL47INGB9999999999 hr gjlm paulissen")  # a reference over 16 characters
    rabo = statements.read(DATA / "nl-rabobank-iban.mt940")
    assert rabo["payer"].iloc[0] == "CONTRA ACCOUNT HOLDER" and rabo["end_to_end"].iloc[0].startswith("01-01-2013 12:00")
    knab = statements.read(DATA / "nl-knab.mt940")
    assert knab["bank_ref"].tolist()[0] == "B4E07XM00J000023"
    german = statements.read(DATA / "germany.mt940.sta")
    assert german["remittance"].iloc[0] == "RF85P2001ISO5 Cursus Marketing"  # ?20 and ?21 stay apart
    forint = statements.read(DATA / "hu-raiffeisen.mt940")
    assert 389277 in forint["amount"].tolist()  # 3892.77 HUF, whatever babel's CLDR data says of HUF's decimals


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_every_file_imports_twice_and_adds_nothing_the_second_time(tmp_path, monkeypatch):
    for name in sorted(HOLDS):  # each in a ledger of its own: some publish one sample entry in several camt versions
        monkeypatch.setenv("DUNNING_DATABASE_URL", f"sqlite:///{tmp_path / name}.db")
        first = run("track", "statement", DATA / name, "--as-of", "2030-01-01", "--json")
        assert first.exit_code == 0, (name, first.output)
        again = json.loads(run("track", "statement", DATA / name, "--as-of", "2030-01-01", "--json").stdout)
        assert (again["new_entries"], again["new_payments"]) == (0, 0), name
        assert json.loads(first.stdout)["new_entries"] == sum(HOLDS[name][:4]), name


def mt940_days(path: Path) -> list[str]:
    """An MT940 file cut into one statement per :20: block, as a bank's daily downloads are."""
    text = path.read_bytes().decode("latin-1")
    return [":20:" + block for block in text.split(":20:")[1:]]


def test_split_and_overlapping_downloads_count_each_entry_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DUNNING_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    days = mt940_days(DATA / "nl-asn.mt940")
    assert len(days) > 3
    written = []
    for n in range(len(days)):  # each download holds its day and the day before
        path = tmp_path / f"asn-{n:02d}.sta"
        path.write_text("".join(days[max(0, n - 1):n + 1]), encoding="latin-1")
        written.append(json.loads(run("track", "statement", path, "--as-of", "2030-01-01", "--json").stdout)["new_entries"])
    assert sum(written) == len(statements.read(DATA / "nl-asn.mt940"))


def test_a_returned_direct_debit_costs_the_customer_what_they_paid_and_the_merchant_the_charge(tmp_path):
    statement = (":20:STARTUMSE\n:25:10020030/1234567\n:28C:1\n:60F:C261120EUR1000,00\n"
                 ":61:2611261126D53,00NRTINONREF//R1\n/OCMT/EUR50,00//CHGS/EUR3,00/\n"
                 ":86:109?00RUECKLASTSCHRIFT?20SVWZ+P-2003 Rate?34AM04\n"
                 ":61:2611261126D20,00NRTINONREF//R2\n/CHGS/EUR2,50/\n"
                 ":86:109?00RUECKLASTSCHRIFT?20SVWZ+P-2004?34MD06\n"
                 ":61:2611261126D12,50NMSCNONREF\n:86:805?00ENTGELT?20Kontofuehrung?34992\n"
                 ":62F:C261126EUR914,50\n-\n")
    path = tmp_path / "returns.sta"
    path.write_text(statement, encoding="latin-1")
    entries = statements.read(path)
    assert list(zip(entries["direction"], entries["amount"], entries["charges"], entries["reason_code"])) == [
        ("return", 5000, 300, "AM04"), ("return", 1750, 250, "MD06"), ("debit", 1250, 0, "")]
    assert balance_change(path) == {"EUR": Decimal("-85.50")}
