"""Default interest, lump sums and collection costs as the statutes set them, each figure computed by hand from the
statute and the published rates; through the library and whole through the CLI (overdue, campaign, the ledger, the page)."""
import email
import email.policy
import json
import re
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dunning.law import rates
from dunning.law.costs import collection_costs
from dunning.law.interest import accrued
from tests.test_cycle import cli, manage_page

HEADER = ("order_id,email,first_name,last_name,language,product_name,kind,payment_method,currency,status,start_date,"
          "interval,installments,installment_amount,first_payment_discount,end_date")
GERMAN_RATES = (np.array(["2025-01-01", "2025-07-01"], dtype="datetime64[D]"), np.array([727, 627]))  # base rate + 5 points
NONE = np.array([], dtype="int64")


def interest(as_of: date, payments=()) -> int:
    """1,000.00 EUR due on 15 June 2025, in default from the 16th."""
    days = np.array([np.datetime64(d, "D") for d, _ in payments], dtype="datetime64[D]")
    return int(accrued(1, np.array([0]), np.array([np.datetime64("2025-06-16")]), np.array([100000]),
                       np.zeros(len(payments), dtype="int64"), np.array([a for _, a in payments], dtype="int64"), days,
                       *GERMAN_RATES, as_of)[0])


def test_german_interest_over_a_change_of_the_base_rate():
    # 16-30 June: 15 days at 2.27 + 5 = 7.27 %; 1-14 July: 14 days at 1.27 + 5 = 6.27 %; actual days / 365
    # 1000 x (15 x 0.0727 + 14 x 0.0627) / 365 = 1000 x 1.9683 / 365 = 5.3926...
    assert interest(date(2025, 7, 14)) == 539
    assert interest(date(2025, 6, 15)) == 0  # the due date itself earns nothing
    assert interest(date(2025, 6, 16)) == 20  # 1000 x 0.0727 / 365 = 0.1991...


def test_a_part_payment_stops_interest_on_what_it_paid_from_its_own_day():
    # 400.00 paid on 1 July: 15 days x 7.27 % on 1000 = 2.98767; 14 days x 6.27 % on 600 = 1.44296; together 4.43
    assert interest(date(2025, 7, 14), [("2025-07-01", 40000)]) == 443
    assert interest(date(2025, 7, 14), [("2025-06-01", 100000)]) == 0  # paid before the due date: never in default
    # a chargeback takes the money back: interest runs again from its day (1000 from 1 July to 14 July at 6.27 %)
    charged_back = interest(date(2025, 7, 14), [("2025-06-01", 100000), ("2025-07-01", -100000)])
    assert charged_back == 240  # 1000 x 14 x 0.0627 / 365 = 2.4049


def test_dutch_collection_costs_by_the_scale():
    principal = np.array([10000, 26667, 30000, 250000, 300000, 1000000, 20000000, 100000000, 500000000, 0])
    # 15 % of 100 = 15, at least 40; 15 % of 266.67 = 40.0005; 45; 375; 375 + 10 % of 500 = 425;
    # 375 + 250 + 5 % of 5000 = 875; 875 + 1 % of 190,000 = 2,775; 2,775 + 0.5 % of 800,000 = 6,775; at most 6,775
    assert collection_costs(principal).tolist() == [4000, 4000, 4500, 37500, 42500, 87500, 277500, 677500, 677500, 0]


def test_the_rates_table_says_which_half_year_it_lacks(tmp_path):
    known = rates.load()
    assert [(str(r.valid_from), str(r.percent)) for r in known.of("de_base")][-3:] == [
        ("2025-01-01", "2.27"), ("2025-07-01", "1.27"), ("2026-01-01", "1.27")]
    assert known.missing_since("de_base", date(2026, 3, 1)) is None
    assert known.missing_since("de_base", date(2026, 12, 5)) == date(2026, 7, 1)
    own = tmp_path / "rates.csv"
    rates.add(own, "de_base", "2026-07-01", "1.27", "Bundesbank")
    assert rates.load(own).missing_since("de_base", date(2026, 12, 5)) is None
    rates.add(own, "de_base", "2026-07-01", "1.30", "corrected")  # the same day again replaces it
    assert [str(r.percent) for r in rates.load(own).of("de_base")][-1] == "1.30"
    assert own.read_text().count("2026-07-01") == 1


def workspace(root: Path, policy: str, plans: list[str], header: str = HEADER) -> Path:
    """A new workspace with this policy and these plans."""
    cli("init", root)
    settings = root / "dunning.toml"
    text = settings.read_text("utf-8")
    start, end = text.index("[policy]"), text.index("[policy.after_final]")
    settings.write_text(text[:start] + policy + "\n" + text[end:], "utf-8")
    (root / "plans.csv").write_text("\n".join([header, *plans]) + "\n", "utf-8")
    return root


def campaign(root: Path, name: str, stage: str) -> None:
    (root / "campaigns" / f"{name}.toml").write_text(
        f'stage = "{stage}"\nchannel = "outbox"\nrate_per_minute = 60000\n[input]\nfile = "../plans.csv"\n'
        '[sender]\nfrom = "Shop <billing@shop.example>"\n', "utf-8")


def send(root: Path, name: str, stage: str, as_of: str) -> email.message.EmailMessage:
    campaign(root, name, stage)
    cli("campaign", "prepare", name, "--as-of", as_of)
    assert json.loads(cli("campaign", "send", name, "--send", "--as-of", as_of, "--json").stdout)["sent"] == 1
    [path] = (root / "outbox" / name).glob("*.eml")
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def overdue(as_of: str, *extra) -> dict:
    rows = json.loads(cli("overdue", "plans.csv", "--as-of", as_of, "--json", *extra).stdout)
    return {row["order_id"]: row for row in rows}


def owed(order_id: str, as_of: str) -> dict:
    """What `dunning order` says the order owes, per part, in major units."""
    return json.loads(cli("order", order_id, "--as-of", as_of, "--json").stdout)["balance"]


def policy(law: str, second: str = "", final: bool = False) -> str:
    """A policy following `law`: a friendly reminder at 3 days, a second at 10 (with `second`), a final at 20."""
    stages = f'[[policy.stages]]\nname = "friendly"\ndays = 3\n[[policy.stages]]\nname = "second"\ndays = 10\n{second}'
    return (f'[policy]\nlaw = "{law}"\ngrace_days = 0\ncooldown_days = 7\n{stages}'
            + ('[[policy.stages]]\nname = "final"\ndays = 20\n' if final else ""))


GERMAN = policy("de-consumer", 'fee = { EUR = "2.50" }\n')


def test_german_interest_is_asked_by_each_reminder_once_and_charged_when_it_is_sent(tmp_path, monkeypatch, signing_key, database_url):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)  # the embedded store and the shared one
    workspace(tmp_path, GERMAN, ["K-1,karl@example.de,Karl,Roth,de,Kurs,installment,bank_transfer,EUR,active,2025-06-15,"
                                 "1 month,1,1000.00,,"])
    looked = overdue("2025-07-14")["K-1"]
    assert (looked["stage"], looked["open_amount"], looked["interest"], looked["costs"]) == ("friendly", "1000.00", "5.39", "0.00")
    assert overdue("2025-07-14")["K-1"]["interest"] == "5.39"  # a look charges nothing: asked again, the same
    assert owed("K-1", "2025-07-14")["interest_open"] == "0.00"

    first = send(tmp_path, "first", "friendly", "2025-07-14")
    text = first.get_body(("plain",)).get_content()
    assert "Hinzu kommen Verzugszinsen von 5,39\xa0€." in text
    assert owed("K-1", "2025-07-14")["interest_open"] == "5.39"

    # ten days later the second reminder asks only what accrued since: 1000 x (15 x 7.27 % + 24 x 6.27 %) / 365 = 7.11
    assert overdue("2025-07-24")["K-1"]["interest"] == "1.72"
    second = send(tmp_path, "second", "second", "2025-07-24")
    text = second.get_body(("plain",)).get_content()
    assert "Verzugszinsen von 7,11\xa0€" in text  # the 5.39 still open and the 1.72 it adds
    assert "Mahngebühr von 2,50\xa0€" in text
    story = owed("K-1", "2025-07-24")
    assert (story["due_open"], story["interest_open"], story["fees_open"], story["owed_now"]) == ("1000.00", "7.11", "2.50", "1009.61")
    link = next(line for line in text.splitlines() if "/m/" in line).strip()
    page = manage_page(tmp_path, link, date(2025, 7, 24))
    assert re.search(r'id="interest">Verzugszinsen[^<]*<strong>7,11\xa0€', page)
    assert re.search(r'id="open-now">1\.009,61\xa0€', page)

    report = json.loads(cli("report", "--as-of", "2025-07-24", "--json").stdout)["fees, interest and costs"]
    assert [(r["kind"], r["amount_charged"], r["amount_settled"], r["amount_open"]) for r in report] == [
        ("fee", "2.50", "0.00", "2.50"), ("interest", "7.11", "0.00", "7.11")]
    cli("report", "--as-of", "2025-07-24", "--html", "report.html", "--lang", "de")
    page = (tmp_path / "report.html").read_text("utf-8")  # the page the dashboard shows too
    assert re.search(r"Gebühren, Zinsen und Kosten.*Verzugszinsen.*7,11\xa0€", page, re.S)
    # the customer pays everything asked: the principal first, then the fee and the interest; nothing is left
    (tmp_path / "paid.csv").write_text("payment_id,order_id,paid_at,amount,currency\np-1,K-1,2025-07-30,1009.61,EUR\n")
    cli("track", "payments", "paid.csv", "--as-of", "2025-07-30")
    assert owed("K-1", "2025-07-30")["owed_now"] == "0.00"
    report = json.loads(cli("report", "--as-of", "2025-07-30", "--json").stdout)["fees, interest and costs"]
    assert [(r["kind"], r["amount_settled"], r["amount_open"]) for r in report] == [("fee", "2.50", "0.00"), ("interest", "7.11", "0.00")]
    assert "K-1" not in overdue("2025-08-30")  # nothing accrues on what was paid


DUTCH = policy("nl-consumer", "fourteen_day_letter = true\n", final=True)


def test_a_dutch_fourteen_day_letter_then_costs_only_after_its_term(tmp_path, monkeypatch, signing_key, database_url):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)  # the embedded store and the shared one
    workspace(tmp_path, DUTCH, ["N-1,noor@example.nl,Noor,Visser,nl,Box,installment,bank_transfer,EUR,active,2026-10-01,"
                                "1 month,1,300.00,,"])
    send(tmp_path, "friendly", "friendly", "2026-10-05")
    letter = send(tmp_path, "letter", "second", "2026-10-12")
    text = letter.get_body(("plain",)).get_content()
    assert "binnen 14 dagen, te rekenen vanaf de dag na ontvangst van deze brief" in text
    assert "buitengerechtelijke incassokosten van €\xa045,00 in rekening (er wordt geen btw over berekend)" in text
    assert "Daarbij komen incassokosten" not in text  # announced, not charged
    # the term: 14 days from the day after the letter (13 Oct .. 26 Oct); costs from 27 October on
    assert overdue("2026-10-26")["N-1"]["costs"] == "0.00"
    assert overdue("2026-10-27")["N-1"]["costs"] == "45.00"
    final = send(tmp_path, "final", "final", "2026-10-27")
    text = final.get_body(("plain",)).get_content()
    assert "Daarbij komen incassokosten van €\xa045,00." in text
    assert "binnen 14 dagen" not in text
    story = owed("N-1", "2026-10-27")
    assert (story["due_open"], story["costs_open"], story["interest_open"], story["owed_now"]) == ("300.00", "45.00", "0.00", "345.00")


def test_french_business_indemnity_is_asked_once(tmp_path, monkeypatch, signing_key):
    monkeypatch.chdir(tmp_path)
    workspace(tmp_path, policy("fr-business"), ["F-1,f@example.fr,Fa,Ro,fr,Stock,installment,bank_transfer,EUR,active,2026-01-10,"
                                                "1 month,1,500.00,,"])
    # ECB 2.15 + 10 points = 12.15 % from 11 January: 20 days to 30 January: 500 x 20 x 0.1215 / 365 = 3.3288
    looked = overdue("2026-01-30")["F-1"]
    assert (looked["interest"], looked["costs"]) == ("3.33", "40.00")
    first = send(tmp_path, "first", "friendly", "2026-01-30")
    assert "S'y ajoutent des frais de 40,00\u202f€." in first.get_body(("plain",)).get_content().replace("\xa0", "\u202f")
    assert overdue("2026-02-10")["F-1"]["costs"] == "0.00"  # once per order


def test_french_consumer_interest_runs_from_the_first_reminder(tmp_path, monkeypatch, signing_key):
    monkeypatch.chdir(tmp_path)
    workspace(tmp_path, policy("fr-consumer"), ["F-2,g@example.fr,Gi,Lo,fr,Cours,installment,bank_transfer,EUR,active,2026-01-10,"
                                                "1 month,1,500.00,,"])
    assert overdue("2026-01-30")["F-2"]["interest"] == "0.00"  # no formal notice yet: no interest (art. 1231-6 Code civil)
    send(tmp_path, "first", "friendly", "2026-01-30")
    # from 31 January to 9 February, 10 days at the legal rate 2.62 %: 500 x 10 x 0.0262 / 365 = 0.3589
    assert overdue("2026-02-09")["F-2"]["interest"] == "0.36"


def test_swiss_five_percent(tmp_path, monkeypatch, signing_key):
    monkeypatch.chdir(tmp_path)
    workspace(tmp_path, policy("ch"),
              ["C-1,c@example.ch,Ca,Mu,de,Abo,installment,bank_transfer,CHF,active,2026-03-01,1 month,1,730.00,,"])
    # 5 % a year on 730.00 for the 31 days from 2 March to 1 April: 730 x 0.05 x 31 / 365 = 3.10
    assert overdue("2026-04-01")["C-1"]["interest"] == "3.10"


@pytest.mark.parametrize("settings, words", [
    ('[policy]\nlaw = "de-private"\n', "law must be one of de-consumer"),
    ('[policy]\nlaw = "nl-consumer"\n[[policy.stages]]\nname = "friendly"\ndays = 3\n', "exactly one stage with fourteen_day_letter"),
    ('[policy]\n[[policy.stages]]\nname = "friendly"\ndays = 3\nfourteen_day_letter = true\n', 'needs law = "nl-consumer"'),
    ('[policy]\nlaw = "nl-consumer"\n[[policy.stages]]\nname = "friendly"\ndays = 3\nfourteen_day_letter = true\nfee = { EUR = "5.00" }\n',
     "allows no reminder fee"),
])
def test_a_policy_that_breaks_the_law_is_refused_with_why(tmp_path, monkeypatch, settings, words):
    monkeypatch.chdir(tmp_path)
    workspace(tmp_path, settings, [])
    result = cli("overdue", "plans.csv", "--as-of", "2026-01-01", code=2)
    assert words in result.output


def test_rates_command_lists_adds_and_refuses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli("init", tmp_path)
    listed = json.loads(cli("rates", "--as-of", "2026-12-05", "--json").stdout)
    assert {law["name"] for law in listed["laws"]} == {"de-consumer", "de-business", "nl-consumer", "fr-consumer", "fr-business", "ch"}
    assert any("de_base holds no rate from 2026-07-01" in w for w in listed["warnings"])
    assert "1.27" in cli("rates", "add", "de_base", "2026-07-01", "1.27", "--source", "Bundesbank").stdout
    listed = json.loads(cli("rates", "--as-of", "2026-12-05", "--json").stdout)
    assert not any("de_base" in w for w in listed["warnings"])
    assert "not a rate in percent" in cli("rates", "add", "de_base", "2027-01-01", "1,27", code=2).output
    assert "not a date" in cli("rates", "add", "de_base", "1.1.2027", "1.27", code=2).output
    assert "no law reads a rate table" in cli("rates", "add", "us_prime", "2027-01-01", "7.50", code=2).output
    (tmp_path / "rates.csv").write_text("table,valid_from,percent,source\nde_base,2027-01-01,lots,x\n", "utf-8")
    assert "rates.csv: row 2: percent 'lots'" in cli("rates", code=2).output


@st.composite
def histories(draw):
    """A few installments and payments (some charged back) over a year, and rates that change on some days."""
    start = date(2025, 1, 1)
    day = st.integers(0, 365).map(lambda n: np.datetime64(start, "D") + n)
    installments = draw(st.lists(st.tuples(day, st.integers(1, 10**9)), min_size=1, max_size=5))
    moves = draw(st.lists(st.tuples(day, st.integers(-10**9, 10**9)), max_size=6))
    changes = sorted(set(draw(st.lists(day, max_size=4))) | {np.datetime64("2024-01-01")})
    yearly = draw(st.lists(st.integers(-200, 1500), min_size=len(changes), max_size=len(changes)))
    return installments, moves, changes, yearly, draw(day).astype(object)


@given(histories())
@settings(max_examples=300, deadline=None)
def test_interest_is_the_sum_of_every_day_in_default(history):
    """The set-based accrual equals the statute read literally: day by day, the principal in default that day (what
    fell into default less the money in by then) times that day's rate over 365, summed exactly, rounded once."""
    installments, moves, changes, yearly, as_of = history
    got = accrued(1, np.zeros(len(installments), dtype="int64"), np.array([d for d, _ in installments]),
                  np.array([a for _, a in installments], dtype="int64"), np.zeros(len(moves), dtype="int64"),
                  np.array([a for _, a in moves], dtype="int64"), np.array([d for d, _ in moves], dtype="datetime64[D]"),
                  np.array(changes), np.array(yearly, dtype="int64"), as_of)[0]
    total = Fraction(0)
    day = min(d for d, _ in installments)
    while day <= np.datetime64(as_of, "D"):
        owed = sum(a for d, a in installments if d <= day)
        paid = max(sum(a for d, a in moves if d <= day), 0)
        rate = max(yearly[max(i for i, c in enumerate(changes) if c <= day)], 0)
        total += Fraction(max(owed - paid, 0) * rate, 365 * 100 * 100)
        day += 1
    assert got == int(total + Fraction(1, 2))  # half up: the total is never negative
