"""The one balance: charges less movements, settled in the stated order, never creating or losing a cent; the digest
that tells an order's changed installments from the ones the journal holds, and the key of a payment without an id."""
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from dunning.journal.balance import settle
from dunning.journal.recording import _view_digests
from dunning.journal.rules import observed


def charged(amounts, code=0, kind="installment", start="2026-01-01"):
    """Charges falling due a month apart from `start`."""
    return pd.DataFrame({"code": code, "kind": kind, "seq": range(1, len(amounts) + 1),
                         "due_date": [pd.Timestamp(start) + pd.DateOffset(months=n) for n in range(len(amounts))], "amount": amounts})


def installments(out):
    """Every order's installments, each order at its own code."""
    return out.installments(np.arange(len(out.paid)))


def moved(rows):
    return pd.DataFrame(rows, columns=["code", "amount", "occurred_on"]).astype({"code": "int64", "amount": "int64"})


def test_oldest_first_and_partial_payments_leave_the_rest_open():
    out = settle(charged([1000, 1000, 1000]), moved([(0, 1500, pd.Timestamp("2026-02-10"))]), 1, date(2026, 6, 1))
    assert list(installments(out)["amount_paid"]) == [1000, 500, 0]
    assert list(installments(out)["amount_open"]) == [0, 500, 1000]
    assert (out.due_open[0], out.credit[0]) == (1500, 0)


def test_payments_after_as_of_do_not_count_and_overpayment_is_credit():
    pays = moved([(0, 500, pd.Timestamp("2026-07-01")), (0, 2500, pd.Timestamp("2026-02-01"))])
    out = settle(charged([1000, 1000]), pays, 1, date(2026, 6, 1))
    assert list(installments(out)["amount_open"]) == [0, 0]
    assert out.credit[0] == 500


def test_fees_come_after_what_is_due_and_before_what_is_not_due_yet():
    charges = pd.concat([charged([8000, 8000, 8000]), charged([250], kind="fee", start="2026-01-15")], ignore_index=True)
    out = settle(charges, moved([(0, 8250, pd.Timestamp("2026-01-20"))]), 1, date(2026, 1, 25))
    assert (out.due_open[0], out.fees_open[0], out.later_open[0]) == (0, 0, 16000)  # 80.00 due + 2.50 fee, both paid
    assert list(installments(out)["amount_paid"]) == [8000, 0, 0]
    nothing_for_the_fee = settle(charges, moved([(0, 8000, pd.Timestamp("2026-01-20"))]), 1, date(2026, 3, 1))
    assert (nothing_for_the_fee.due_open[0], nothing_for_the_fee.fees_open[0]) == (16000, 250)
    ahead = settle(charges, moved([(0, 9000, pd.Timestamp("2026-01-20"))]), 1, date(2026, 1, 25))
    assert (ahead.due_open[0], ahead.fees_open[0], ahead.later_open[0]) == (0, 0, 15250)  # the fee before the next installment


def test_money_going_back_reopens_and_a_later_payment_closes_again():
    charges = charged([10000], start="2026-01-01")
    paid = moved([(0, 10000, pd.Timestamp("2026-01-05"))])
    charged_back = pd.concat([paid, moved([(0, -10000, pd.Timestamp("2026-01-20"))])], ignore_index=True)
    paid_again = pd.concat([charged_back, moved([(0, 10000, pd.Timestamp("2026-02-03"))])], ignore_index=True)
    assert settle(charges, paid, 1, date(2026, 1, 10)).due_open[0] == 0
    assert settle(charges, charged_back, 1, date(2026, 1, 25)).due_open[0] == 10000
    assert settle(charges, paid_again, 1, date(2026, 2, 5)).due_open[0] == 0


@settings(max_examples=200, deadline=None)
@given(
    plans=st.lists(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8), min_size=1, max_size=6),
    paid=st.lists(st.lists(st.integers(min_value=-10**9, max_value=10**9), max_size=4), min_size=6, max_size=6),
)
def test_settling_never_creates_or_loses_a_cent(plans, paid):
    charges = pd.concat([charged(a, code=i) for i, a in enumerate(plans)], ignore_index=True)
    pays = moved([(i, amount, pd.Timestamp("2026-01-15")) for i in range(len(plans)) for amount in paid[i]])
    out = settle(charges, pays, len(plans), date(2027, 1, 1))
    per_order = out.charges.groupby("code").agg(due=("amount_due", "sum"), paid=("amount_paid", "sum"), open=("amount_open", "sum"))
    for i in range(len(plans)):
        row = per_order.loc[i]
        assert row["paid"] + row["open"] == row["due"]
        assert row["paid"] + out.credit[i] == max(sum(paid[i]), 0)
    assert (out.charges["amount_open"] >= 0).all() and (out.charges["amount_paid"] <= out.charges["amount_due"]).all()
    for _, group in installments(out).groupby("code"):
        open_seen = False
        for due, got in zip(group["amount_due"], group["amount_paid"]):
            if open_seen:
                assert got == 0
            if got < due:
                open_seen = True
    assert np.array_equal(out.due_open + out.later_open, per_order["open"].reindex(range(len(plans))).to_numpy())


@pytest.mark.parametrize("text", [object, "string", "str"])
def test_the_digest_of_an_orders_installments_does_not_depend_on_how_its_text_is_held(text):
    """The journal stores each order's digest to tell a changed export from one it holds: the same installments give
    the same digest whether their order ids come as Python strings or as Arrow's (else every order would look changed)."""
    views = pd.DataFrame({"order_id": ["A-1", "A-1", "Ö-2"], "seq": [1, 2, 1],
                          "due_date": pd.to_datetime(["2026-01-05", "2026-02-05", "2025-12-31"]),
                          "amount_due": [1000, 1000, 250], "amount_open": [0, 1000, 250]}).astype({"order_id": text})
    assert _view_digests(views).to_dict() == {"A-1": -7925022056663466922, "Ö-2": 7551472943299885246}


def test_a_payment_without_an_id_is_keyed_by_which_of_the_files_identical_rows_it_is():
    """Its key counts every identical row of the file, one with an id included, so a file imported again, by this
    version or an earlier one, gives the same keys (and counts once)."""
    rows = pd.DataFrame({"order_id": ["A"] * 3, "paid_at": ["2026-01-01"] * 3, "amount": [100] * 3, "currency": ["EUR"] * 3,
                         "payment_id": ["p1", "", ""], "kind": ["payment"] * 3, "row": [2, 3, 4]})
    found, _ = observed(rows, pd.Series({"A": "EUR"}), date(2026, 2, 1), source="file", origin="file:p.csv", file="p.csv")
    assert found["source_key"].tolist() == ["p1", "row:A|2026-01-01|100|EUR|payment|1", "row:A|2026-01-01|100|EUR|payment|2"]
