"""The corpus of bad input in tests/data/bad: each file gives the right figure or one clear sentence, never a traceback."""
import csv
import json
import stat
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from dunning.cli import app
from dunning.files import csv_bytes

BAD = Path(__file__).parent / "data" / "bad"
runner = CliRunner()
AS_OF = "2026-11-20"


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_a_duplicate_order_beside_other_bad_rows_is_rejected_row_by_row():
    result = run("overdue", BAD / "duplicate_order_with_other_bad_rows.csv", "--as-of", AS_OF, "--dry-run")
    assert result.exit_code == 0
    assert "4 rows, 0 accepted, 4 rejected" in result.stderr
    assert "row 2, order_id: duplicate order id with different data" in result.stderr
    assert "row 4, email: malformed e-mail address" in result.stderr and "row 5, open_amount: not an amount" in result.stderr


def test_every_order_rejected_with_a_payments_file():
    result = run("overdue", BAD / "every_order_rejected.csv", "--payments", BAD / "payments_for_rejected_orders.csv",
                 "--as-of", AS_OF, "--json", "--dry-run")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "2 rows, 0 accepted, 2 rejected" in result.stderr


def test_dates_typed_as_dates_in_xlsx_and_parquet_are_dates():
    for name in ("excel_date_cells.xlsx", "parquet_date_cells.parquet"):
        result = run("overdue", BAD / name, "--as-of", AS_OF, "--json", "--dry-run")
        assert result.exit_code == 0, result.output
        rows = {r["order_id"]: r for r in json.loads(result.stdout)}
        assert rows["X-1"]["oldest_due_date"] == "2026-06-30" and rows["X-1"]["open_amount"] == "149.70"


def test_language_names_are_understood_and_no_message_mixes_languages(tmp_path, signing_key):
    result = run("export", BAD / "languages_that_are_not_locales.csv", "--to", "generic", "-o", tmp_path / "out.csv",
                 "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "1 rows have a language that is not one (xx; rows 4)" in result.stderr
    rows = {r["order_id"]: r for r in csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8"))}
    assert {k: r["language"] for k, r in rows.items()} == {"A-1": "de", "A-2": "en", "A-3": "en", "A-4": "en", "A-5": "en"}
    assert rows["A-1"]["open_amount_text"] == "10,00\xa0€" and rows["A-5"]["open_amount_text"] == "€1,234.50"  # it: English


def test_a_payments_file_without_currency_takes_each_orders_currency():
    result = run("overdue", BAD / "orders_jpy_kwd_and_formulas.csv", "--payments", BAD / "payments_without_currency.csv",
                 "--as-of", AS_OF, "--json", "--dry-run")
    assert result.exit_code == 0, result.output
    rows = {r["order_id"]: r for r in json.loads(result.stdout)}
    assert "J-1" not in rows and rows["K-1"]["open_amount"] == "7.655"  # 12000 JPY paid it all; KWD has 3 decimals
    assert "row 4, amount: amount has more decimals than the order's currency JPY" in result.stderr
    assert "row 5, currency: no currency, and the order is not known" in result.stderr


def test_unknown_filter_values_and_settings_are_named_with_the_valid_ones(tmp_path):
    plans = Path(__file__).parent.parent / "examples" / "plans.csv"
    stage = run("overdue", plans, "--as-of", AS_OF, "--stage", "finale")
    assert stage.exit_code == 2 and "--stage 'finale' matches nothing: the values are upcoming, friendly, second, final" in stage.stderr
    kind = run("overdue", plans, "--as-of", AS_OF, "--kind", "abo")
    assert kind.exit_code == 2 and "one_time, installment, subscription" in kind.stderr
    method = run("overdue", plans, "--as-of", AS_OF, "--method", "Bank Transfer", "--json", "--dry-run")
    assert method.exit_code == 0 and {r["payment_method"] for r in json.loads(method.stdout)} == {"bank_transfer"}
    setting = run("overdue", plans, "--config", BAD / "unknown_setting.toml")
    assert setting.exit_code == 2
    assert "unknown setting grace in [policy]; the settings there are after_final, cooldown_days, grace_days" in setting.stderr


def test_every_csv_written_is_guarded_and_owner_only(tmp_path, signing_key):
    out = tmp_path / "overdue.csv"
    result = run("overdue", BAD / "orders_jpy_kwd_and_formulas.csv", "--as-of", AS_OF, "--csv", out)
    assert result.exit_code == 0, result.output
    rows = {r["order_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["E-1"]["first_name"] == "'=HYPERLINK(\"http://x\")" and rows["E-1"]["product_name"] == "[map it in the profile's]"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and stat.S_IMODE((tmp_path / "overdue.not-dunned.csv").stat().st_mode) == 0o600
    again = run("overdue", BAD / "orders_jpy_kwd_and_formulas.csv", "--as-of", AS_OF, "--csv", out)
    assert again.exit_code == 2 and "pass --force" in again.stderr
    assert run("overdue", BAD / "orders_jpy_kwd_and_formulas.csv", "--as-of", AS_OF, "--csv", out, "--force").exit_code == 0
    rejected = run("overdue", BAD / "formula_in_a_rejected_row.csv", "--as-of", AS_OF, "--rejects", tmp_path / "r.csv")
    assert rejected.exit_code == 0
    reject = next(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert reject["value"] == "abc" and stat.S_IMODE((tmp_path / "r.csv").stat().st_mode) == 0o600
    store = Path("dunning.sqlite3")
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_the_guard_keeps_numbers_numbers():
    text = csv_bytes(pd.DataFrame({"amount": ["-5.00", "12"], "name": ["-x", "@y"]})).decode()
    assert text.splitlines() == ["amount,name", "-5.00,'-x", "12,'@y"]


def test_text_in_square_brackets_reaches_the_terminal():
    result = run("overdue", BAD / "unknown_status.csv", "--as-of", AS_OF, "--dry-run")
    assert "unknown status (map it in the profile's [values.status])" in result.stderr


def test_a_profile_rule_with_an_unknown_key_is_named(tmp_path):
    profile = tmp_path / "shop.toml"
    profile.write_text('[[rules]]\ncolumn = "Type"\nkep = ["Payment"]\n', "utf-8")
    result = run("overdue", Path(__file__).parent.parent / "examples" / "plans.csv", "--profile", profile)
    assert result.exit_code == 2 and "unknown key(s) kep" in result.stderr


def test_payments_into_an_empty_store():
    result = run("track", "payments", BAD / "payments_without_currency.csv", "--as-of", AS_OF)
    assert result.exit_code == 0 and "0 new payments" in result.stdout
    assert "no currency, and the order is not known" in result.stderr
