"""Every input row is accepted or rejected with file, row, column and reason."""
import pytest

from dunning.errors import InputError
from dunning.sources import loader, profiles

HEADER = ["order_id", "email", "first_name", "currency", "open_amount", "paid_amount", "due_date", "status"]
GOOD = ["A-1", "a@example.com", "Ann", "EUR", "10.00", "0.00", "2026-10-01", "pending"]


def read(write_csv, *rows):
    return loader.read_orders(write_csv([HEADER, *rows]), profiles.load("generic"))


def reasons(export):
    return {(r.row, r.column): r.reason for r in export.rejects.itertuples()}


def test_good_rows_are_accepted(write_csv):
    export = read(write_csv, GOOD)
    assert export.rows_in == export.rows_accepted == 1
    assert export.receivables.iloc[0]["amount_due"] == 1000


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("due_date", "01.10.2026", "not a date in the format %Y-%m-%d"),
        ("open_amount", "ten", "not an amount"),
        ("open_amount", "-5.00", "negative amount"),
        ("email", "not-an-address", "malformed e-mail address"),
        ("currency", "EUX", "unknown currency (not an ISO 4217 code)"),
        ("status", "weird", "unknown status (map it in the profile's [values.status])"),
        ("order_id", "", "missing order id"),
        ("due_date", "", "missing due date (the order has something open)"),
    ],
)
def test_each_bad_value_is_rejected_with_its_reason(write_csv, column, value, reason):
    bad = list(GOOD)
    bad[HEADER.index(column)] = value
    export = read(write_csv, ["A-0", *GOOD[1:]], bad)
    assert reasons(export)[(3, column)] == reason
    assert export.rows_rejected == 1
    assert export.rows_in == export.rows_accepted + export.rows_rejected
    assert list(export.orders["order_id"]) == ["A-0"]
    assert set(export.rejects["file"]) == {str(export.path)}


def test_settled_order_needs_no_email(write_csv):
    export = read(write_csv, ["A-1", "", "Ann", "EUR", "0.00", "10.00", "", "paid"])
    assert export.rows_rejected == 0


def test_identical_duplicates_collapse_and_conflicting_ones_are_rejected(write_csv):
    conflicting = ["A-2", "b@example.com", "Bo", "EUR", "10.00", "0.00", "2026-10-01", "pending"]
    export = read(write_csv, GOOD, GOOD, conflicting, [*conflicting[:4], "99.00", *conflicting[5:]])
    assert list(export.orders["order_id"]) == ["A-1"]
    assert export.rows_rejected == 2
    assert reasons(export)[(5, "order_id")] == "duplicate order id with different data (first at row 4)"
    assert export.rows_in == export.rows_accepted + export.rows_rejected == 4


def test_missing_required_column_is_one_sentence(write_csv):
    path = write_csv([["email", "open_amount"], ["a@example.com", "1"]])
    with pytest.raises(InputError, match=r"missing required column\(s\) for orders with profile generic: order_id"):
        loader.read_orders(path, profiles.load("generic"))


def test_elopage_export_in_windows_1252(examples):
    export = loader.read_orders(examples / "orders_elopage.csv", profiles.load("elopage"))
    orders = export.orders.set_index("order_id")
    assert orders.loc["E-10421", "first_name"] == "Jürgen"
    assert orders.loc["E-10421", "payment_method"] == "bank_transfer"
    assert orders.loc["E-10424", "status"] == "chargeback"
    assert orders.loc["E-10421", "kind"] == "installment"
    rec = export.receivables.set_index("order_id")
    assert rec.loc["E-10425", "amount_due"] - rec.loc["E-10425", "amount_paid"] == 125000
    assert reasons(export) == {(9, "email"): "malformed e-mail address"}


def test_payments_with_repeated_ids_count_once(write_csv):
    path = write_csv([
        ["payment_id", "order_id", "paid_at", "amount"],
        ["p1", "A-1", "2026-10-01", "5.00"], ["p1", "A-1", "2026-10-01", "5.00"],
        ["p2", "A-1", "2026-10-02", "1.00"], ["p2", "A-1", "2026-10-02", "2.00"],
        ["", "A-1", "2026-10-03", "1;5"],
        ["p3", "A-1", "2026-10-03", "1", "5"],
    ], name="payments.csv")
    export = loader.read_payments(path, profiles.load("generic"))
    # no currency: read to the finest decimals any currency has; the order's currency decides later
    assert list(export.payments["amount"]) == [50000] and list(export.payments["amount_exponent"]) == [4]
    assert {r.reason for r in export.rejects.itertuples()} == {
        "payment id appears with different data", "not an amount", "row has 5 fields, the header has 4"}
    assert export.rejects.set_index("reason").loc["row has 5 fields, the header has 4", "row"] == 7
    assert export.rows_in == 6 and export.rows_rejected == 4
