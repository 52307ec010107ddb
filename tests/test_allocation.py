from datetime import date, timedelta

import pandas as pd
from hypothesis import given, settings, strategies as st

from dunning.overdue import allocate


def receivables(amounts, order="A", start=1):
    return pd.DataFrame({
        "order_id": order, "seq": range(start, start + len(amounts)),
        "due_date": pd.date_range("2026-01-01", periods=len(amounts), freq="MS"),
        "amount_due": pd.array(amounts, dtype="Int64"), "amount_paid": pd.array([0] * len(amounts), dtype="Int64"),
    })


def payments(rows):
    return pd.DataFrame(rows, columns=["order_id", "paid_at", "amount", "currency", "payment_id"]).astype({"amount": "int64"})


def test_oldest_first_and_partial_payments_leave_the_rest_open():
    rec, credit = allocate(receivables([1000, 1000, 1000]), payments([("A", pd.Timestamp("2026-02-10"), 1500, "EUR", "p")]), date(2026, 6, 1))
    assert list(rec["amount_paid"]) == [1000, 500, 0]
    assert list(rec["amount_open"]) == [0, 500, 1000]
    assert credit.set_index("order_id").loc["A", "credit"] == 0


def test_payments_after_as_of_do_not_count_and_overpayment_is_credit():
    pays = payments([("A", pd.Timestamp("2026-07-01"), 500, "EUR", "late"), ("A", pd.Timestamp("2026-02-01"), 2500, "EUR", "p")])
    rec, credit = allocate(receivables([1000, 1000]), pays, date(2026, 6, 1))
    assert list(rec["amount_open"]) == [0, 0]
    assert credit.set_index("order_id").loc["A", "credit"] == 500


@given(
    plans=st.lists(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8), min_size=1, max_size=6),
    paid=st.lists(st.integers(min_value=0, max_value=10**9), min_size=6, max_size=6),
)
def test_allocation_never_creates_or_loses_a_cent(plans, paid):
    rec = pd.concat([receivables(a, order=f"O{i}") for i, a in enumerate(plans)], ignore_index=True)
    pays = payments([(f"O{i}", pd.Timestamp("2026-01-15"), paid[i], "EUR", f"p{i}") for i in range(len(plans))])
    out, credit = allocate(rec, pays, date(2027, 1, 1))
    per_order = out.groupby("order_id").agg(due=("amount_due", "sum"), paid=("amount_paid", "sum"), open=("amount_open", "sum"))
    credit = credit.set_index("order_id")["credit"]
    for i in range(len(plans)):
        row = per_order.loc[f"O{i}"]
        assert row["paid"] + row["open"] == row["due"]
        assert row["paid"] + credit[f"O{i}"] == paid[i]
        assert (out["amount_open"] >= 0).all() and (out["amount_paid"] <= out["amount_due"]).all()
    for _, group in out.groupby("order_id"):
        open_seen = False
        for due, got in zip(group["amount_due"], group["amount_paid"]):
            if open_seen:
                assert got == 0
            if got < due:
                open_seen = True


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 5000), st.integers(0, 5000)), min_size=1, max_size=6),
    st.lists(st.tuples(st.sampled_from(["payment", "drop", "left_list"]), st.integers(0, 90), st.integers(1, 8000)), max_size=6),
)
def test_the_pages_one_order_rule_is_the_ledgers_rule(plan, paid):
    """The customer's page computes one order in plain Python; it must agree with the ledger's frames."""
    from dunning import ledger

    start, as_of = date(2026, 9, 1), date(2026, 10, 15)
    views = [(seq, start + timedelta(days=d), due, min(still, due)) for seq, (d, due, still) in enumerate(plan)]
    payments = [(kind, start + timedelta(days=d), amount) for kind, d, amount in paid]
    frame = pd.DataFrame(views, columns=["seq", "due_date", "amount_due", "amount_open"]).assign(order_id="A")
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    rows = pd.DataFrame([{"order_id": "A", "kind": k, "paid_at": pd.Timestamp(d), "amount": a} for k, d, a in payments],
                        columns=["order_id", "kind", "paid_at", "amount"])
    vectorised = ledger.open_installments(frame, rows, as_of)
    single = ledger.one_order(views, payments, as_of)
    assert [(s, d, due, paid_, open_) for s, d, due, paid_, open_ in single] == [
        (int(r.seq), pd.Timestamp(r.due_date).date(), int(r.amount_due), int(r.amount_paid), int(r.amount_open))
        for r in vectorised.itertuples()]
