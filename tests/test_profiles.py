"""The built-in profiles read the real exports in tests/data/samples."""
from datetime import date

import pytest

from dunning import config, overdue
from dunning.errors import InputError
from dunning.sources import loader, profiles


def read(samples, name, profile):
    return loader.read_orders(samples / name, profiles.load(profile))


def test_builtin_profiles_are_listed():
    assert {"generic", "elopage", "stripe_invoices", "shopify", "woocommerce_subscriptions", "paypal_de"} <= set(profiles.builtin_names())


def test_shopify_line_items_collapse_to_orders(samples):
    export = read(samples, "shopify_orders_export.csv", "shopify")
    assert export.rows_in == 40 and export.rows_rejected == 0
    assert len(export.orders) == 19
    first = export.orders.set_index("order_id").loc["#1013"]
    assert first["email"] == "karine.ruby@example.com"
    assert (first["first_name"], first["last_name"]) == ("Karine", "Ruby")
    assert first["product_name"] == "Gift Card - $100, Selling Plans Ski Wax - Selling Plans Ski Wax"
    rec = export.receivables.set_index("order_id").loc["#1013"]
    assert rec["amount_due"] == 12759 and rec["amount_paid"] == 0
    assert rec["due_date"].date() == date(2025, 5, 23)


def test_shopify_pending_order_is_overdue_and_rounding_leftovers_are_not(samples):
    export = read(samples, "shopify_orders_export.csv", "shopify")
    result = overdue.find(export.orders, export.receivables, date(2025, 6, 1), config.load().policy)
    assert list(result.orders["order_id"]) == ["#1013"]
    assert result.orders.iloc[0]["days_overdue"] == 9
    leftovers = result.excluded.set_index("order_id")
    assert set(leftovers.index) == {"#1008", "#1009"}
    assert set(leftovers["why"]) == {"the shop marks the order as paid"}


def test_stripe_invoices(samples):
    export = read(samples, "stripe_invoices.csv", "stripe_invoices")
    assert export.rows_in == 21 and export.rows_rejected == 0
    assert set(export.orders["currency"]) == {"USD"}
    paid = export.receivables.set_index("order_id").loc["in_1NnsiOCrveYCAKIS8u13XH5J"]
    assert paid["amount_due"] == paid["amount_paid"] == 16000
    result = overdue.find(export.orders, export.receivables, date(2023, 12, 1), config.load().policy)
    assert result.orders.empty
    assert set(result.excluded["why"]) == {"order is draft"}


def test_woocommerce_subscriptions_expand_from_start(samples):
    export = read(samples, "woocommerce_subscriptions.csv", "woocommerce_subscriptions")
    assert export.rows_in == 10 and export.rows_rejected == 0
    orders = export.orders.set_index("order_id")
    assert orders.loc["wcs-2", "email"] == "george@example.com"  # customer_email empty, billing_email used
    assert orders.loc["wcs-2", "product_name"] == "Imported Subscription with Custom Line Item Name"
    assert orders.loc["wcs-7", "status"] == "cancelled"
    rec = export.receivables_until(date(2016, 9, 1))
    george = rec[rec["order_id"] == "wcs-2"]
    assert list(george["due_date"].dt.strftime("%Y-%m-%d")) == [
        "2016-04-29", "2016-05-29", "2016-06-29", "2016-07-29", "2016-08-29"]
    assert list(george["amount_paid"]) == [4668, 0, 0, 0, 0]  # due before next_payment_date counts as paid
    weekly = rec[rec["order_id"] == "wcs-6"]
    assert (weekly["due_date"].diff().dropna().dt.days == 14).all()
    result = overdue.find(export.orders, rec, date(2016, 9, 1), config.load().policy)
    assert "wcs-7" not in set(result.orders["order_id"])
    assert result.orders.set_index("order_id").loc["wcs-11", "reason"] == "no_response"
    assert result.orders.set_index("order_id").loc["wcs-2", "reason"] == "manual_payment"


def test_paypal_german_activity_as_payments(samples):
    export = loader.read_payments(samples / "paypal_activity_de.csv", profiles.load("paypal_de"))
    assert export.rows_in == 5
    assert list(export.payments["amount"]) == [2500, 1575]
    assert list(export.payments["order_id"]) == ["Fahrradkorb", "Geburtstag"]
    assert list(export.payments["payment_id"]) == ["1A234567BC890123D", "9I012345JK678901L"]
    rejected = export.rejects.groupby("row")["reason"].apply(set)
    assert rejected[3] == {"a negative amount needs its kind (refund, chargeback or return) in a kind column"}
    assert "not a customer payment (currency conversion or transfer)" in rejected[4]
    assert export.rows_in == len(export.payments) + export.rows_rejected


@pytest.mark.parametrize("profile", ["generic", "paypal_de"])
def test_broken_portuguese_paypal_file_is_a_clear_error(samples, profile):
    with pytest.raises(InputError, match="missing required column"):
        loader.read_payments(samples / "paypal_activity_ptbr_broken_encoding.csv", profiles.load(profile))


def test_unknown_profile_lists_the_builtins():
    with pytest.raises(InputError, match="neither a built-in profile .*elopage"):
        profiles.load("nonesuch")


def test_profile_file_with_unknown_column_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[columns]\norder_number = "Nr"\n')
    with pytest.raises(InputError, match="'order_number', which is not a canonical column"):
        profiles.load(path)


def test_profile_file_with_bad_status_map_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[values.status]\n"offen" = "open"\n')
    with pytest.raises(InputError, match=r"\[values.status\] maps to open"):
        profiles.load(path)
