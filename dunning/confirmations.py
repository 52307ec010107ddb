"""Payment confirmations: "payment received, thank you" for each payment the ledger learnt of (webhook, payments
file, bank statement, an export's drop) on an order that had been reminded, with what is still open if it was
partial. One per payment (`about` = payment:<id>), never twice."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dunning import ledger, ledger_store, manage
from dunning.columns import NOTICE_COLUMNS
from dunning.policy import CONFIRMATION
from dunning.store import Store


def due(store: Store, as_of: date, within_days: int) -> pd.DataFrame:
    """The payments to confirm, one row each in the shape of a reminder (NOTICE_COLUMNS): `paid_amount` is the
    payment, `open_amount` what is still open after it. Only payments made in the `within_days` before `as_of`
    (older ones were never news), counted by the ledger's rule, on orders with a reminder sent before them."""
    state = ledger_store.load(store)
    paid = ledger.counted(state.payments)
    since = pd.Timestamp(as_of - timedelta(days=within_days))
    paid = paid[(paid["counted"] > 0) & (paid["paid_at"] >= since) & (paid["paid_at"] <= pd.Timestamp(as_of))]
    history = state.history
    reminded = history[history["about"] == ""].groupby("order_id")["reminded_on"].min()
    first = paid["order_id"].map(reminded)
    paid = paid[first.notna() & (paid["paid_at"] >= first)]
    sent = set(history.loc[history["stage"] == CONFIRMATION, "about"])
    paid = paid[~("payment:" + paid["payment_id"]).isin(sent)]
    rows = []
    for payment in paid.sort_values(["paid_at", "payment_id"], kind="stable").itertuples():
        view = manage.view(store, payment.order_id, as_of)
        if view is None:
            continue
        rows.append({
            "order_id": view.order_id, "email": view.email, "first_name": view.first_name, "last_name": view.last_name,
            "language": view.language, "product_name": view.product_name, "created_at": pd.NaT, "kind": "", "payment_method": "",
            "currency": view.currency, "status": "", "open_amount": view.open_now + view.fee, "paid_amount": int(payment.counted),
            "fee": 0, "oldest_due_date": payment.paid_at.date(), "days_overdue": 0, "open_installments": 0,
            "stage": CONFIRMATION, "reason": "", "reminders_sent": 0, "last_stage": "", "last_reminded_on": pd.NaT,
            "about": f"payment:{payment.payment_id}",
        })
    frame = pd.DataFrame(rows, columns=NOTICE_COLUMNS)
    return frame.astype({"open_amount": "Int64", "paid_amount": "Int64", "fee": "Int64"})
