"""The merchant's work list: what the reminders could not settle and now needs a person.

* an order still open `policy.after_final.days` after its final notice: the action the policy suggests
  (review, cancel or collection), until the merchant records a decision;
* a customer's request to change the payment method, until it is marked done.

Each row carries what is needed to act: the amounts, the reminders sent, the visits of the manage page and
the requests, from the ledger (the same rule as every command)."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dunning.journal import balance, decisions, queue
from dunning.journal.store import Store
from dunning.money import to_major_string
from dunning.policy import Policy

COLUMNS = ["order_id", "action", "customer", "email", "currency", "open_amount", "fee", "final_sent_on",
           "days_since_final", "reminders", "visits", "last_visit", "requests"]
REQUEST = "answer request"


def work_list(store: Store, policy: Policy, as_of: date) -> pd.DataFrame:
    """One row per order that needs the merchant's decision (amounts as decimal strings), oldest final notice first."""
    with store.engine.connect() as db:
        history = queue.history(db)
        decided = set(decisions.decided(db)["order_id"])
        history = history[history["about"] == ""]
        final = policy.dunning_stages[-1].name if policy.dunning_stages else ""
        finals = history[history["stage"] == final].groupby("order_id")["reminded_on"].max()
        due = finals[finals <= pd.Timestamp(as_of - timedelta(days=policy.after_final.days))]
        open_requests = decisions.requests(store)
        candidates = sorted(set(due.index) | set(open_requests["order_id"]))
        owed = balance.of_orders(db, as_of, candidates).set_index("order_id")
    waiting = [o for o in due.index if o in owed.index and owed.at[o, "owed_now"] > 0 and o not in decided]
    asked = [o for o in dict.fromkeys(open_requests["order_id"]) if o not in waiting]
    listed = waiting + asked
    visits = store.visits_frame()
    seen = visits[visits["order_id"].isin(listed)].groupby("order_id")["visited_at"].agg(["size", "max"])
    sent_by_order = {o: g.sort_values("reminded_on") for o, g in history[history["order_id"].isin(listed)].groupby("order_id")}
    asked_by_order = {o: g for o, g in open_requests.groupby("order_id")}
    details = owed
    rows = []
    for order_id in listed:
        if order_id not in details.index:
            continue
        order = details.loc[order_id]
        currency = str(order["currency"])
        sent = sent_by_order.get(order_id, history.iloc[0:0])
        mine = asked_by_order.get(order_id, open_requests.iloc[0:0])
        final_on = finals.get(order_id)
        rows.append({
            "order_id": order_id, "action": policy.after_final.action if order_id in waiting else REQUEST,
            "customer": f"{order['first_name']} {order['last_name']}".strip(), "email": order["email"], "currency": currency,
            "open_amount": to_major_string(int(order["due_open"]), currency),
            "fee": to_major_string(int(order["owed_now"]) - int(order["due_open"]), currency),  # fees, interest, costs
            "final_sent_on": final_on.date().isoformat() if final_on is not None and pd.notna(final_on) else "",
            "days_since_final": (as_of - final_on.date()).days if final_on is not None and pd.notna(final_on) else None,
            "reminders": ", ".join(f"{r.stage} {r.reminded_on.date().isoformat()}" for r in sent.itertuples()),
            "visits": int(seen["size"].get(order_id, 0)),
            "last_visit": seen["max"][order_id].date().isoformat() if order_id in seen.index else "",
            "requests": "; ".join(f"#{r.id} {r.wanted} ({r.requested_at.date().isoformat()})" + (f": {r.message}" if r.message else "")
                                  for r in mine.itertuples()),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def open_amount(store: Store, order_id: str, as_of: date) -> tuple[int, str]:
    """What an order owes now by the one balance (installments due and fees), and its currency ("" when unknown)."""
    with store.engine.connect() as db:
        owed = balance.of_orders(db, as_of, [order_id])
    if owed.empty:
        return 0, ""
    return int(owed["owed_now"].iloc[0]), str(owed["currency"].iloc[0])

