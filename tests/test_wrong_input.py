"""Wrong input is refused or asked about, never guessed: each file in tests/data/bad written for one class of mistake,
with its expected outcome; every row read is accepted or rejected; no input changes an amount by a factor; nothing is
an internal error; and a long run of bad input through one workspace leaves it giving the right figures."""
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning.cli import app

BAD = Path(__file__).parent / "data" / "bad"
EXAMPLES = Path(__file__).parent.parent / "examples"
AS_OF = "2026-11-20"
runner = CliRunner()


def run(*args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    return result


def counted(stderr: str, name: str) -> tuple[int, int, int]:
    """Rows in, accepted and rejected, as the command reports them for a file."""
    found = re.search(rf"{re.escape(name)}: (\d+) rows, (\d+) accepted, (\d+) rejected", stderr)
    return tuple(int(n) for n in found.groups())


def looked(path, *options):
    result = run("overdue", path, "--as-of", AS_OF, "--json", "--dry-run", *options)
    rows_in, accepted, rejected = counted(result.stderr, Path(path).name)
    assert rows_in == accepted + rejected
    return {r["order_id"]: r for r in json.loads(result.stdout)}, result.stderr


def test_a_point_in_a_decimal_comma_file_is_never_a_factor_of_a_hundred():
    found, said = looked(BAD / "decimal_comma_with_points.csv", "--profile", "elopage")
    assert {o: r["open_amount"] for o, r in found.items()} == {"D-2": "1234.50", "D-3": "12.50", "D-4": "1234.00"}
    assert "row 2, open_amount: ambiguous: '.' is this file's thousands mark" in said
    assert "row 6, open_amount: ambiguous" in said
    assert counted(said, "decimal_comma_with_points.csv") == (5, 3, 2)


def test_a_profile_whose_decimal_and_thousands_marks_are_one_is_refused():
    result = run("overdue", EXAMPLES / "plans.csv", "--profile", BAD / "same_decimal_and_thousands.toml", "--dry-run", code=2)
    assert "[format] decimal and thousands are both ','" in result.stderr


def test_currency_codes_that_are_not_money_are_rejected():
    found, said = looked(BAD / "currencies_that_are_not_money.csv")
    assert set(found) == {"X-4", "X-5"}  # the West African CFA franc is money; gold and the test code are not
    assert said.count("unknown currency (not an ISO 4217 code)") == 3


def test_dates_outside_any_sensible_window_are_rejected():
    found, said = looked(BAD / "dates_outside_any_window.csv")
    assert set(found) == {"T-4"} and found["T-4"]["days_overdue"] == 50
    assert counted(said, "dates_outside_any_window.csv") == (4, 1, 3)


def test_plans_that_cannot_be_real_are_rejected_and_never_stored():
    run("overdue", BAD / "plans_that_cannot_be_real.csv", "--as-of", AS_OF)  # records what it accepts
    found, said = looked(BAD / "plans_that_cannot_be_real.csv")
    assert set(found) == {"P-6"}
    assert "row 2, installments: more than 600 installments" in said and "row 3, interval: not an interval" in said
    assert "row 4, installments: its last installment falls after 2100" in said and "row 5, interval: not an interval" in said
    assert "row 6, installment_amount: larger than any order's amount" in said
    run("report", "--as-of", AS_OF)  # the ledger stays readable: nothing it holds runs to the year 10000


def test_values_too_long_or_with_control_characters_are_rejected():
    found, said = looked(BAD / "values_too_long_or_with_control_characters.csv")
    assert set(found) == {"V-4"}
    assert "row 2, email: longer than 254 characters" in said and "row 3, first_name: holds a control character" in said
    assert "row 4, last_name: longer than 200 characters" in said


def test_an_unbalanced_quote_swallows_no_row_without_a_word():
    found, said = looked(BAD / "unbalanced_quote.csv")
    assert set(found) == {"Q-1"}
    assert "row 3, (row): a quote opened in this row never closes: it swallows the rows up to row 5" in said
    assert counted(said, "unbalanced_quote.csv") == (4, 1, 3)


def test_a_header_named_twice_is_refused_with_its_name():
    result = run("overdue", BAD / "same_header_twice.csv", "--as-of", AS_OF, "--dry-run", code=2)
    assert "the header names the column 'open_amount' twice" in result.stderr


def test_a_workbook_with_two_sheets_needs_one_chosen_and_says_which_was_read():
    result = run("overdue", BAD / "two_sheets.xlsx", "--as-of", AS_OF, "--dry-run", code=2)
    assert "the workbook has 2 sheets ('Offen', 'Bezahlt'); choose one with --sheet" in result.stderr
    found, said = looked(BAD / "two_sheets.xlsx", "--sheet", "Bezahlt")
    assert set(found) == {"S-2"} and "note: two_sheets.xlsx: read the sheet 'Bezahlt'" in said
    assert "there is no sheet 'Paid'" in run("overdue", BAD / "two_sheets.xlsx", "--sheet", "Paid", "--dry-run", code=2).stderr


@pytest.mark.parametrize(("name", "words"), [
    ("utf16_without_bom.csv", "looks like UTF-16 without a byte-order mark"),
    ("mixed_encodings.csv", "the file mixes encodings"),
    ("only_a_byte_order_mark.csv", "holds nothing but a byte-order mark"),
])
def test_files_that_are_not_what_they_seem_say_what_they_are(name, words):
    assert words in run("overdue", BAD / name, "--as-of", AS_OF, "--dry-run", code=2).stderr


def test_utf16_with_its_byte_order_mark_is_read():
    found, _ = looked(BAD / "utf16_with_bom.csv")
    assert found["U-1"]["last_name"] == "Müller"


def test_blank_rows_are_skipped_and_counted():
    found, said = looked(BAD / "blank_rows_at_the_end.csv")
    assert set(found) == {"B-1"} and "blank rows skipped" in said


def test_a_header_of_a_million_columns_is_refused_at_once(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{n}" for n in range(1_000_000)) + "\n1\n", "utf-8")
    assert "the header has 1,000,000 columns" in run("overdue", wide, "--dry-run", code=2).stderr


@pytest.mark.parametrize(("name", "words"), [
    ("grace_days_true.toml", "[policy] grace_days must be a whole number of days, 0 or more, not True"),
    ("policy_a_number.toml", "[policy] policy must be a table, not 5"),
    ("stages_a_table.toml", "[policy] stages must be a list of tables"),
])
def test_settings_of_the_wrong_kind_are_one_sentence(name, words):
    result = run("overdue", EXAMPLES / "plans.csv", "--config", BAD / name, "--dry-run", code=2)
    assert words in result.stderr


@pytest.mark.parametrize(("name", "words"), [
    ("profile_columns_a_string.toml", "columns must be a table of canonical column = header"),
    ("profile_values_a_string.toml", "[values.status] must be a table"),
    ("profile_bad_regex.toml", "[extract] product_name is not a regular expression"),
])
def test_profiles_of_the_wrong_shape_are_one_sentence(name, words):
    assert words in run("overdue", EXAMPLES / "plans.csv", "--profile", BAD / name, "--dry-run", code=2).stderr


def test_a_bad_as_of_is_one_sentence():
    result = run("overdue", EXAMPLES / "plans.csv", "--as-of", "20.11.2026", code=2)
    assert result.stderr.strip() == "error: --as-of '20.11.2026' is not a date: write it as YYYY-MM-DD, e.g. 2026-11-20"


def test_a_long_run_of_bad_input_leaves_the_workspace_giving_the_right_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init", tmp_path)
    for name in sorted(p.name for p in BAD.iterdir() if p.suffix in (".csv", ".xlsx", ".parquet")):
        result = runner.invoke(app, ["overdue", str(BAD / name), "--as-of", AS_OF])
        assert result.exit_code in (0, 2) and "internal error" not in result.output, (name, result.output)
        result = runner.invoke(app, ["track", "payments", str(BAD / name), "--as-of", AS_OF])
        assert result.exit_code in (0, 2) and "internal error" not in result.output, (name, result.output)
    shutil.copy(EXAMPLES / "plans.csv", tmp_path)
    shutil.copy(EXAMPLES / "payments.csv", tmp_path)
    found = {r["order_id"]: r["open_amount"] for r in json.loads(
        run("overdue", "plans.csv", "--payments", "payments.csv", "--as-of", AS_OF, "--json").stdout)}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.chdir(fresh)
    run("init", fresh)
    clean = {r["order_id"]: r["open_amount"] for r in json.loads(
        run("overdue", tmp_path / "plans.csv", "--payments", tmp_path / "payments.csv", "--as-of", AS_OF, "--json").stdout)}
    assert found == clean and len(found) == 7
    run("report", "--as-of", AS_OF)
