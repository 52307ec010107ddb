"""Recovery after reminders: exact figures on a hand-built history, properties, the report, the commands."""
import json
import re
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dunning import reminders, report, report_html, tracking
from dunning.journal import recording
from dunning.exports.fields import values
from dunning.sources import loader, profiles
from dunning.journal.store import Store
from dunning.journal.tables import visits

REMINDED_ON = date(2026, 10, 1)
TODAY = date(2026, 11, 1)


def overdue_rows(*rows):
    base = dict(stage="final", reason="manual_payment", payment_method="bank_transfer", currency="EUR", days_overdue=20,
                email="a@example.com", first_name="A", last_name="B", language="en", product_name="Kurs", fee=0,
                token="t", oldest_due_date=date(2026, 9, 10), paid_amount=0, reminders_sent=0)
    return pd.DataFrame([base | r for r in rows])


def remind(store, frame, name, on):
    """What `export` or a sent campaign leaves in the ledger: the orders with their one installment, and a reminder each."""
    views = pd.DataFrame({"order_id": frame["order_id"], "seq": 1, "due_date": pd.Timestamp("2026-09-10"),
                          "amount_due": frame["open_amount"], "amount_open": frame["open_amount"]})
    recording.write(store, recording.Arrival(as_of=on, origin="export:test", details=frame.assign(status="pending")[recording.DETAILS],
                                             views=views, open_only=True))
    campaign = store.create_campaign(name, "final", "outbox", on, "")
    store.add_reminders(campaign, [reminders.row(o, v) | {"subject": "", "body_text": "", "body_html": ""} for o, v in
                                   zip(frame.to_dict("records"), values(frame.astype({"open_amount": "Int64"}), "en").to_dict("records"))],
                        handed_over_on=on)



def test_a_reminder_read_a_column_at_a_time_is_the_one_read_row_by_row():
    frame = overdue_rows(dict(order_id="A", open_amount=10000, postal_address="Weg 1"),
                         dict(order_id="B", open_amount=5000, first_name=None, fees_open=pd.NA, about="upcoming"))
    frame = frame.astype({"open_amount": "Int64", "fees_open": "Int64", "first_name": "string", "about": "string"})
    frame["created_at"] = pd.to_datetime(["2026-08-01", None])
    fields = values(frame, "en")
    by_row = [reminders.row(o, v) for o, v in zip(frame.to_dict("records"), fields.to_dict("records"))]
    by_column = [reminders.row(o, v) for o, v in zip(reminders.records(frame, reminders.ORDER_COLUMNS),
                                                      reminders.records(fields, reminders.VALUE_COLUMNS))]
    assert by_column == by_row
    assert by_column[1]["about"] == "upcoming" and by_column[0]["postal_address"] == "Weg 1" and by_column[1]["fees_open"] == 0

def history(store, write_csv):
    remind(store, overdue_rows(
        dict(order_id="A", open_amount=10000), dict(order_id="B", open_amount=5000, stage="second", reason="no_response"),
        dict(order_id="C", open_amount=20000, currency="USD", payment_method="card"), dict(order_id="D", open_amount=8000),
    ), "c1", REMINDED_ON)
    payments = write_csv([
        ["payment_id", "order_id", "paid_at", "amount", "currency"],
        ["p1", "A", "2026-10-04", "100.00", "EUR"],
        ["p2", "B", "2026-10-08", "20.00", "EUR"],
        ["p3", "C", "2026-10-20", "250.00", "USD"],
        ["p4", "X", "2026-10-05", "10.00", "EUR"],
        ["p5", "A", "2026-10-06", "5.00", "USD"],
        ["p6", "D", "2026-12-24", "5.00", "EUR"],
    ], name="payments.csv")
    paid = loader.read_payments(payments, profiles.load("generic"))
    first = tracking.import_payments(store, paid, TODAY)
    again = tracking.import_payments(store, paid, TODAY)
    later = write_csv([["order_id", "email", "currency", "open_amount", "due_date", "status"],
                       ["D", "d@example.com", "EUR", "30.00", "2026-09-10", "pending"]], name="later.csv")
    export = loader.read_orders(later, profiles.load("generic"))
    dropped = tracking.import_export(store, export, date(2026, 10, 15))
    repeat = tracking.import_export(store, export, date(2026, 10, 15))
    return first, again, dropped, repeat


def test_exact_figures_on_a_hand_built_history(database_url, write_csv):
    store = Store(database_url)
    first, again, dropped, repeat = history(store, write_csv)
    with store.engine.begin() as db:
        db.execute(visits.insert(), [{"order_id": o, "visited_at": datetime(2026, 10, d, 9, tzinfo=timezone.utc)}
                                     for o, d in (("B", 3), ("B", 9), ("D", 12), ("A", 2), ("C", 1))])
        db.execute(visits.insert(), [{"order_id": "D", "visited_at": datetime(2026, 9, 20, tzinfo=timezone.utc)}])
    assert first.payments == 4 and again.payments == 0
    assert first.unrelated == ["X"] and first.overpaid == ["C"]
    assert {(r.value, r.column) for r in first.rejected.itertuples()} == {("A", "currency"), ("D", "paid_at")}
    assert dropped.payments == 1 and dropped.left_list == ["B", "C"] and repeat.payments == 0  # A was paid by then
    rows = tracking.recovery(store, TODAY).set_index("order_id")
    assert rows.loc["A", ["recovered", "still_open", "status", "days_to_first_payment"]].tolist() == [10000, 0, "full", 3]
    assert rows.loc["B", ["recovered", "still_open", "status", "left_list"]].tolist() == [2000, 3000, "partly", True]
    assert rows.loc["C", ["recovered", "status", "days_to_full"]].tolist() == [20000, "full", 19]
    assert rows.loc["D", ["recovered", "still_open", "status", "days_to_first_payment"]].tolist() == [5000, 3000, "partly", 14]
    eur = tracking.figures(rows.reset_index(), []).set_index("currency").loc["EUR"]
    assert (eur["orders_reminded"], eur["amount_reminded"], eur["amount_recovered"], eur["still_open"]) == (3, 23000, 17000, 6000)
    assert (eur["fully_paid"], eur["partly_paid"], eur["not_paid"]) == (1, 2, 0)
    assert eur["rate_by_count"] == 1.0 and eur["rate_by_amount"] == pytest.approx(17000 / 23000)
    assert (eur["opened"], eur["opened_not_paid"], eur["never_opened"]) == (3, 2, 0)  # A paid after opening; B, D opened, not fully paid
    by_stage = tracking.figures(rows.reset_index(), ["stage"]).set_index(["stage", "currency"])
    assert by_stage.loc[("second", "EUR"), "amount_recovered"] == 2000
    cohort = tracking.cohorts(rows.reset_index(), TODAY).set_index("currency").loc["EUR"]
    assert cohort["after_3_days"] == pytest.approx(10000 / 23000)
    assert cohort["after_7_days"] == pytest.approx(12000 / 23000)  # B paid 20.00 on day 7
    assert cohort["after_14_days"] == pytest.approx(17000 / 23000)
    ageing = tracking.ageing(rows.reset_index()).set_index(["currency", "days_overdue"])
    assert ageing.loc[("EUR", "31-60"), "still_open"] == 6000
    assert list(tracking.still_open(store, rows.reset_index(), TODAY)["order_id"]) == ["B", "D"]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**7), st.lists(st.tuples(st.integers(-5, 40), st.integers(1, 10**7)), max_size=4)),
                min_size=1, max_size=8))
def test_recovered_plus_still_open_is_what_was_reminded(tmp_path_factory, orders):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('p') / 's.sqlite3'}")
    remind(store, overdue_rows(*[dict(order_id=f"O{i}", open_amount=a) for i, (a, _) in enumerate(orders)]), "c", REMINDED_ON)
    seen = pd.DataFrame([{"source": "file", "source_key": f"{i}-{k}", "origin": "file:t", "order_id": f"O{i}", "kind": "payment",
                          "amount": amount, "currency": "EUR", "occurred_on": pd.Timestamp(REMINDED_ON + timedelta(days=d)),
                          "reference": f"{i}-{k}", "note": "", "review": False}
                         for i, (_, pays) in enumerate(orders) for k, (d, amount) in enumerate(pays)], columns=recording.OBSERVED_COLUMNS)
    recording.write(store, recording.Arrival(as_of=REMINDED_ON + timedelta(days=60), origin="file:t", observations=seen))
    rows = tracking.recovery(store, REMINDED_ON + timedelta(days=60))
    assert (rows["recovered"] + rows["still_open"] == rows["reminded"]).all()
    assert (rows["recovered"] >= 0).all() and (rows["recovered"] <= rows["reminded"]).all()
    for i, (amount, pays) in enumerate(orders):
        after = sum(a for d, a in pays)  # earlier ones too: the ledger learnt of them after the reminder
        assert rows.set_index("order_id").loc[f"O{i}", "recovered"] == min(after, amount)


def tables_in(page: str) -> dict[str, list[list[str]]]:
    """The report's tables by class name, as rows of cell texts (standard library parser)."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.current, self.cell = {}, None, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.current = self.tables.setdefault(dict(attrs).get("class", "").split()[-1], [])
            elif tag == "tr" and self.current is not None:
                self.current.append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.current is not None:
                self.current[-1].append(self.cell.strip())
                self.cell = None
            elif tag == "table":
                self.current = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    reader = Reader()
    reader.feed(page)
    return reader.tables


def test_html_report_is_self_contained_and_holds_the_numbers(tmp_path, write_csv):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    history(store, write_csv)
    made = report.gather(store, TODAY)
    path = tmp_path / "report.html"
    path.write_text(report_html.render(made, "en"), "utf-8")
    text = path.read_text("utf-8")
    assert "<script" not in text and "<link" not in text and "None" not in text
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)  # nothing to fetch: it opens without a network
    assert "Recovered and still open per stage (EUR)" in text and "Recovered and still open per stage (USD)" in text
    header, *body = tables_in(text)["by-currency"]
    eur = dict(zip(header, next(r for r in body if r[0] == "EUR")))
    assert (eur["Reminded"], eur["Recovered"], eur["Still open"], eur["Rate"], eur["Orders"]) == (
        "€230.00", "€170.00", "€60.00", "74%", "3")
    headline = made.headline.set_index("currency")
    assert headline.loc["EUR", ["orders", "reminded", "recovered", "still_open"]].tolist() == [3, 23000, 17000, 6000]
    german = report_html.render(made, "de")
    assert "Noch offen" in german and "230,00\xa0€" in german and '<html lang="de">' in german


def test_report_and_track_commands(tmp_path, write_csv, monkeypatch, examples, signing_key):
    from typer.testing import CliRunner

    from dunning.cli import app

    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    recorded = runner.invoke(app, ["export", str(examples / "plans.csv"), "--payments", str(examples / "payments.csv"),
                                   "--as-of", "2026-11-20", "--to", "generic", "--json"])
    assert recorded.exit_code == 0 and json.loads(recorded.stdout)["reminders_recorded"] == 7
    paid = write_csv([["order_id", "paid_at", "amount", "currency"], ["P-2001", "2026-11-21", "247.00", "EUR"],
                      ["P-2004", "2026-11-22", "100.00", "GBP"], ["P-2002", "2026-11-22", "39.80", "USD"]], name="later-payments.csv")
    imported = runner.invoke(app, ["track", "payments", str(paid), "--as-of", "2026-11-25"])
    assert imported.exit_code == 0 and "2 new payments" in imported.stdout
    assert "currency USD differs from the order's EUR" in imported.stderr
    result = runner.invoke(app, ["report", "--as-of", "2026-11-25", "--json", "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)
    eur = next(r for r in tables["by currency"] if r["currency"] == "EUR")
    assert eur["orders_reminded"] == 5 and eur["amount_recovered"] == "247.00"
    gbp = next(r for r in tables["by currency"] if r["currency"] == "GBP")
    assert gbp["amount_recovered"] == "100.00" and gbp["still_open"] == "350.00"
    page = (tmp_path / "r.html").read_text("utf-8")
    assert all(f"Recovered and still open per stage ({c})" in page for c in ("EUR", "GBP", "JPY"))
    still = json.loads(runner.invoke(app, ["track", "open", "--as-of", "2026-11-25", "--json"]).stdout)
    assert "P-2001" not in {r["order_id"] for r in still} and {r["order_id"] for r in still} >= {"P-2004", "P-2002"}
