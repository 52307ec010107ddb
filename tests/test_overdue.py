from datetime import date
from decimal import Decimal

import pandas as pd

from dunning.overdue import Filters, find
from dunning.policy import Hold, Policy, Stage

POLICY = Policy(
    grace_days=2, cooldown_days=7,
    stages=(Stage("friendly", "Friendly", 3), Stage("second", "Second", 10, {"EUR": 250}), Stage("final", "Final", 21, {"EUR": 500})),
    minimum_amount={"EUR": 100},
)
SKIPPING = Policy(**{**vars(POLICY), "skip_stages": True})  # stages by days overdue alone
AS_OF = date(2026, 11, 20)


def orders(*rows):
    base = dict(email="a@example.com", first_name="A", last_name="B", language="de", product_name="Kurs",
                kind="one_time", payment_method="card", currency="EUR", status="pending",
                created_at=pd.Timestamp("2026-01-01"), customer_id="", failure="")
    return pd.DataFrame([{**base, **r} for r in rows])


def receivables(*rows):
    frame = pd.DataFrame([{"seq": 1, "amount_paid": 0, **r} for r in rows])
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    return frame.astype({"amount_due": "Int64", "amount_paid": "Int64"})


def ids(result):
    return list(result.orders["order_id"])


def test_overdue_only_when_due_plus_grace_is_strictly_before_as_of():
    o = orders({"order_id": "edge"}, {"order_id": "late"})
    r = receivables({"order_id": "edge", "due_date": "2026-11-18", "amount_due": 1000},
                    {"order_id": "late", "due_date": "2026-11-17", "amount_due": 1000})
    assert ids(find(o, r, AS_OF, POLICY)) == ["late"]


def test_stage_fee_days_and_installment_counts():
    o = orders({"order_id": "A"}, {"order_id": "B"}, {"order_id": "C"}, {"order_id": "D"})
    r = receivables(
        {"order_id": "A", "due_date": "2026-11-16", "amount_due": 1000},
        {"order_id": "B", "due_date": "2026-11-10", "amount_due": 1000},
        {"order_id": "C", "due_date": "2026-10-30", "amount_due": 1000},
        {"order_id": "C", "seq": 2, "due_date": "2026-09-30", "amount_due": 1000},
        {"order_id": "D", "due_date": "2026-11-17", "amount_due": 1000},
    )
    frame = find(o, r, AS_OF, SKIPPING).orders.set_index("order_id")
    assert frame.loc["A", "stage"] == "friendly" and frame.loc["A", "fee"] == 0
    assert frame.loc["B", "stage"] == "second" and frame.loc["B", "fee"] == 250
    assert frame.loc["C", "stage"] == "final" and frame.loc["C", "fee"] == 500
    assert frame.loc["C", "days_overdue"] == 51 and frame.loc["C", "open_installments"] == 2
    assert frame.loc["C", "open_amount"] == 2000 and frame.loc["C", "oldest_due_date"] == date(2026, 9, 30)
    assert frame.loc["D", "stage"] == "friendly" and frame.loc["D", "days_overdue"] == 3
    no_grace = Policy(**{**vars(SKIPPING), "grace_days": 0})
    early = find(o, r, date(2026, 11, 19), no_grace).orders.set_index("order_id")
    assert early.loc["D", "stage"] == "" and early.loc["D", "days_overdue"] == 2


def test_future_installments_are_not_overdue_but_count_as_paid_amount():
    o = orders({"order_id": "A"})
    r = receivables({"order_id": "A", "due_date": "2026-10-01", "amount_due": 1000, "amount_paid": 400},
                    {"order_id": "A", "seq": 2, "due_date": "2026-12-01", "amount_due": 1000})
    row = find(o, r, AS_OF, POLICY).orders.iloc[0]
    assert (row["open_amount"], row["paid_amount"]) == (600, 400)


def test_cancelled_paid_minimum_holds_and_cooldown_are_excluded_with_reasons():
    o = orders({"order_id": "cancel", "status": "cancelled"}, {"order_id": "small"},
               {"order_id": "held"}, {"order_id": "held-expired"}, {"order_id": "cust", "email": "Held@Example.com"},
               {"order_id": "recent"}, {"order_id": "ok"})
    r = receivables(*[{"order_id": i, "due_date": "2026-10-01", "amount_due": 1000} for i in o["order_id"]])
    r.loc[r["order_id"] == "small", "amount_due"] = 99
    policy = Policy(**{**vars(POLICY), "holds": (
        Hold("plan agreed", order_id="held", until=date(2026, 12, 1)),
        Hold("old", order_id="held-expired", until=date(2026, 11, 1)),
        Hold("disputed", email="held@example.com"))})
    reminded = pd.DataFrame({"order_id": ["recent"], "stage": ["friendly"], "reminded_on": [pd.Timestamp("2026-11-15")]})
    result = find(o, r, AS_OF, policy, history=reminded)
    assert sorted(ids(result)) == ["held-expired", "ok"]
    why = result.excluded.set_index("order_id")["why"].to_dict()
    assert why == {
        "cancel": "order is cancelled", "small": "below the minimum amount",
        "held": "on hold until 2026-12-01: plan agreed", "cust": "on hold: disputed",
        "recent": "reminded within the last 7 days",
    }


def test_reasons_from_failure_status_and_method():
    o = orders({"order_id": "cb", "failure": "chargeback"}, {"order_id": "nsf", "status": "insufficient_funds"},
               {"order_id": "fail", "status": "failed"}, {"order_id": "bank", "payment_method": "bank_transfer"},
               {"order_id": "card"})
    r = receivables(*[{"order_id": i, "due_date": "2026-10-01", "amount_due": 1000} for i in o["order_id"]])
    reasons = find(o, r, AS_OF, POLICY).orders.set_index("order_id")["reason"].to_dict()
    assert reasons == {"cb": "chargeback", "nsf": "insufficient_funds", "fail": "failed_debit",
                       "bank": "manual_payment", "card": "no_response"}


def test_filters():
    o = orders({"order_id": "sub", "kind": "subscription", "product_name": "Yoga Abo"},
               {"order_id": "inst", "kind": "installment", "payment_method": "paypal", "currency": "USD"},
               {"order_id": "big", "product_name": "Coaching"})
    r = receivables({"order_id": "sub", "due_date": "2026-11-10", "amount_due": 1000},
                    {"order_id": "inst", "due_date": "2026-10-01", "amount_due": 1000},
                    {"order_id": "big", "due_date": "2026-10-01", "amount_due": 50000})
    run = lambda f: sorted(ids(find(o, r, AS_OF, SKIPPING, filters=f)))
    assert run(Filters(kinds=("subscription",))) == ["sub"]
    assert run(Filters(payment_methods=("paypal",))) == ["inst"]
    assert run(Filters(products=("yoga",))) == ["sub"]
    assert run(Filters(currencies=("USD",))) == ["inst"]
    assert run(Filters(stages=("final",))) == ["big", "inst"]
    assert run(Filters(min_days=20)) == ["big", "inst"]
    assert run(Filters(min_amount=Decimal("100"))) == ["big"]


def test_payments_are_allocated_and_unmatched_ones_reported():
    o = orders({"order_id": "A"})
    r = receivables({"order_id": "A", "due_date": "2026-09-01", "amount_due": 1000},
                    {"order_id": "A", "seq": 2, "due_date": "2026-10-01", "amount_due": 1000})
    pays = pd.DataFrame({"order_id": ["A", "A", "ZZ"], "paid_at": pd.to_datetime(["2026-09-05", "2026-11-01", "2026-11-01"]),
                         "amount": [1200, 300, 500], "currency": ["EUR", "USD", "EUR"], "payment_id": ["1", "2", "3"]})
    result = find(o, r, AS_OF, POLICY, payments=pays)
    row = result.orders.iloc[0]
    assert (row["open_amount"], row["paid_amount"], row["oldest_due_date"]) == (800, 1200, date(2026, 10, 1))
    assert list(result.unmatched_payments["why"]) == ["currency differs from the order's (EUR)", "no such order in the export"]


def test_totals_are_per_currency():
    o = orders({"order_id": "E1"}, {"order_id": "E2"}, {"order_id": "U1", "currency": "USD"})
    r = receivables(*[{"order_id": i, "due_date": "2026-10-01", "amount_due": 1000} for i in o["order_id"]])
    totals = find(o, r, AS_OF, SKIPPING).totals().set_index("currency")
    assert totals.loc["EUR", "open_amount"] == 2000 and totals.loc["EUR", "orders"] == 2
    assert totals.loc["USD", "open_amount"] == 1000 and totals.loc["EUR", "fees"] == 1000


def test_an_order_gets_the_stage_after_the_last_one_it_received_never_one_it_skipped():
    o = orders(*[{"order_id": i} for i in ("never", "had-friendly", "had-friendly-lately", "had-second", "had-final")])
    r = receivables(*[{"order_id": i, "due_date": "2026-09-01", "amount_due": 1000} for i in o["order_id"]])
    history = pd.DataFrame([
        ("had-friendly", "friendly", "2026-10-01"), ("had-friendly-lately", "friendly", "2026-11-18"),
        ("had-second", "friendly", "2026-10-01"), ("had-second", "second", "2026-10-20"),
        ("had-final", "friendly", "2026-10-01"), ("had-final", "second", "2026-10-10"), ("had-final", "final", "2026-10-30"),
    ], columns=["order_id", "stage", "reminded_on"]).assign(reminded_on=lambda f: pd.to_datetime(f["reminded_on"]))
    result = find(o, r, AS_OF, POLICY, history=history)
    frame = result.orders.set_index("order_id")
    assert frame["stage"].to_dict() == {"never": "friendly", "had-friendly": "second", "had-second": "final"}
    assert frame.loc["never", "fee"] == 0 and frame.loc["had-friendly", "fee"] == 250 and frame.loc["had-second", "fee"] == 500
    assert frame["reminders_sent"].to_dict() == {"never": 0, "had-friendly": 1, "had-second": 2}
    assert frame.loc["had-second", "last_stage"] == "second"
    assert frame.loc["had-second", "last_reminded_on"] == pd.Timestamp("2026-10-20")
    why = result.excluded.set_index("order_id")["why"].to_dict()
    assert why == {"had-friendly-lately": "reminded within the last 7 days", "had-final": "every stage was sent (the last: final)"}
    skipping = find(o, r, AS_OF, SKIPPING, history=history).orders.set_index("order_id")["stage"].to_dict()
    assert skipping == {"never": "final", "had-friendly": "final", "had-second": "final"}


def test_an_order_that_received_a_stage_waits_for_the_next_ones_days():
    o = orders({"order_id": "A"})
    r = receivables({"order_id": "A", "due_date": "2026-11-12", "amount_due": 1000})
    history = pd.DataFrame({"order_id": ["A"], "stage": ["friendly"], "reminded_on": [pd.Timestamp("2026-11-01")]})
    result = find(o, r, AS_OF, POLICY, history=history)  # 8 days overdue: second comes at 10
    assert result.orders.empty
    assert result.excluded.set_index("order_id")["why"].to_dict() == {"A": "friendly sent; second follows at 10 days overdue"}
