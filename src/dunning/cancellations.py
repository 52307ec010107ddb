"""Cancellation notices: "your order is cancelled" for each order the merchant cancelled (`dunning actions cancel`,
or `decide --as cancelled`), once (`about` = cancelled), with what was open when it was cancelled."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dunning.columns import CHARGE_COLUMNS, NOTICE_COLUMNS
from dunning.journal import balance, decisions, queue
from dunning.policy import CANCELLATION

ABOUT = "cancelled"


def due(db: sa.Connection, as_of: date) -> pd.DataFrame:
    """The cancelled orders still to be told, one row each in the shape of a reminder (NOTICE_COLUMNS): `open_amount`
    is what was open when the order was cancelled. Read on `db`, so a campaign tells them in the transaction that
    read them."""
    made = decisions.decided(db)
    made = made[(made["decision"] == ABOUT) & (made["decided_on"] <= pd.Timestamp(as_of))]
    history = queue.history(db)
    told = set(history.loc[history["stage"] == CANCELLATION, "order_id"])
    made = made[~made["order_id"].isin(told)].sort_values(["decided_on", "order_id"], kind="stable")
    held = balance.book(db, made["order_id"].tolist()).orders.set_index("order_id")
    made = made[made["order_id"].isin(held.index)]
    orders = held.loc[made["order_id"]].reset_index()
    count = len(made)
    zeros = pd.array(np.zeros(count, dtype="int64"), dtype="Int64")
    return pd.DataFrame({
        "order_id": orders["order_id"], "email": orders["email"], "first_name": orders["first_name"],
        "last_name": orders["last_name"], "language": orders["language"], "product_name": orders["product_name"],
        "created_at": pd.NaT, "kind": "", "payment_method": "", "currency": orders["currency"], "status": "",
        "open_amount": pd.array(made["amount_open"].to_numpy(dtype="int64"), dtype="Int64"), "paid_amount": zeros,
        **dict.fromkeys(CHARGE_COLUMNS, zeros), "oldest_due_date": made["decided_on"].dt.date.to_numpy(), "days_overdue": 0,
        "open_installments": 0, "stage": CANCELLATION, "reason": "", "reminders_sent": 0, "last_stage": "",
        "last_reminded_on": pd.NaT, "about": ABOUT,
    }, columns=NOTICE_COLUMNS)
