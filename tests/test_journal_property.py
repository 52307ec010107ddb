"""Any interleaving and repetition of the same observations, from any sources, gives the same balances: the true ones.

A history is drawn: orders with installments, real payments (each seen by some of: the webhook, a payments file with
the provider's id or without any id, the bank statement), some charged back (seen by the webhook, and perhaps as a
return on the statement naming the payment's end-to-end id), and the shop's exports of some days, each showing what
the shop had received by then. Every delivery (an export, a file, a webhook event, a statement) is written to a fresh
journal in an order hypothesis picks, some of them twice; the balance of every order must be what was really paid.
"""
import shutil
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dunning.journal import balance, recording
from dunning.journal.store import Store

START = date(2026, 9, 1)
DUE = 12000  # two installments of 120.00, due on days 5 and 35
EXPORT_DAYS = (15, 45, 75)  # five days after each payment day: what an export shows is never mistaken for a later payment


@st.composite
def histories(draw):
    orders = []
    for n in range(draw(st.integers(1, 2))):
        amounts = draw(st.lists(st.integers(1000, 9000), min_size=1, max_size=3, unique=True))
        payments = []
        for k, amount in enumerate(amounts):
            seen = draw(st.sets(st.sampled_from(["webhook", "file_id", "file_noid", "statement"]), min_size=1))
            if {"file_id", "file_noid"} <= seen:
                seen.discard("file_noid")
            back = draw(st.sampled_from([None, "webhook", "webhook+statement"]))
            payments.append({"id": f"pi_{n}_{k}", "day": 10 + 30 * k, "amount": amount, "seen": seen, "back": back})
        orders.append({"order_id": f"O-{n}", "payments": payments})
    exports = draw(st.sets(st.sampled_from(EXPORT_DAYS)))
    return orders, sorted(exports)


def deliveries(orders, exports):
    """Every delivery a shop would make of this history, each a function writing it to a store."""
    out = []

    def observation(source, key, order_id, kind, amount, day, reference=""):
        return {"source": source, "source_key": key, "origin": source, "order_id": order_id, "kind": kind, "amount": amount,
                "currency": "EUR", "occurred_on": pd.Timestamp(START + timedelta(days=day)), "reference": reference,
                "note": "", "review": False}

    def arrival(rows, day):
        frame = pd.DataFrame(rows, columns=recording.OBSERVED_COLUMNS)
        return lambda store: recording.write(store, recording.Arrival(as_of=START + timedelta(days=day), origin="t", observations=frame))

    file_rows = []
    for order in orders:
        for p in order["payments"]:
            oid = order["order_id"]
            if "webhook" in p["seen"]:
                out.append(arrival([observation("webhook", p["id"], oid, "payment", p["amount"], p["day"], p["id"])], p["day"]))
            if "file_id" in p["seen"]:
                file_rows.append(observation("file", p["id"], oid, "payment", p["amount"], p["day"], p["id"]))
            if "file_noid" in p["seen"]:
                file_rows.append(observation("file", f"row:{oid}|{p['day']}|{p['amount']}", oid, "payment", p["amount"], p["day"]))
            if "statement" in p["seen"]:
                out.append(arrival([observation("statement", f"S-{p['id']}", oid, "payment", p["amount"], p["day"] + 1)], p["day"] + 1))
            if p["back"]:
                out.append(arrival([observation("webhook", f"cb-{p['id']}", oid, "chargeback", -p["amount"], p["day"] + 3)], p["day"] + 3))
            if p["back"] == "webhook+statement":
                out.append(arrival([observation("statement", f"R-{p['id']}", oid, "return", -p["amount"], p["day"] + 4,
                                                p["id"])], p["day"] + 4))
    for day in (40, 100):  # a cumulative payments file: the later one repeats the earlier rows
        rows = [r for r in file_rows if r["occurred_on"] <= pd.Timestamp(START + timedelta(days=day))]
        if rows:
            out.append(arrival(rows, day))
    for day in [0, *exports]:
        out.append(export(orders, day))
    return out


def export(orders, day):
    """The shop's export of a day: each order's two installments, with what it had received by then applied oldest first."""
    details, views = [], []
    for order in orders:
        paid = sum(p["amount"] - (p["amount"] if p["back"] and p["day"] + 3 <= day else 0)
                   for p in order["payments"] if p["day"] <= day)
        details.append({"order_id": order["order_id"], "email": "a@example.com", "first_name": "A", "last_name": "B",
                        "language": "en", "product_name": "P", "currency": "EUR", "status": "pending"})
        for seq, due in ((1, 5), (2, 35)):
            applied = min(max(paid, 0), DUE)
            paid -= applied
            views.append({"order_id": order["order_id"], "seq": seq, "due_date": pd.Timestamp(START + timedelta(days=due)),
                          "amount_due": DUE, "amount_open": DUE - applied})
    arrival = recording.Arrival(as_of=START + timedelta(days=day), origin=f"export:day{day}.csv", details=pd.DataFrame(details),
                                views=pd.DataFrame(views))
    return lambda store: recording.write(store, arrival)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """A store with its schema made once; each example starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "empty.sqlite3"
    Store(f"sqlite:///{path}").engine.dispose()
    return path


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_any_order_and_repetition_of_the_same_sightings_gives_the_true_balances(tmp_path_factory, empty_store, history, data):
    orders, exports = history
    made = deliveries(orders, exports)
    order = data.draw(st.permutations(range(len(made))))
    again = data.draw(st.lists(st.sampled_from(range(len(made))), max_size=4))
    path = tmp_path_factory.mktemp("j") / "j.sqlite3"
    shutil.copy(empty_store, path)
    store = Store(f"sqlite:///{path}")
    for n in [*order, *again]:
        made[n](store)
    with store.engine.connect() as db:
        owed = balance.of_orders(db, START + timedelta(days=120)).set_index("order_id")
    for o in orders:
        paid = sum(p["amount"] - (p["amount"] if p["back"] else 0) for p in o["payments"])
        assert owed.loc[o["order_id"], "paid"] == paid, (o, order, again)
        assert owed.loc[o["order_id"], "owed_now"] == 2 * DUE - paid
