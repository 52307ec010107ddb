"""Payment confirmations: "payment received, thank you" for each movement of money in that the journal learnt of
(webhook, payments file, bank statement, an export's drop) on an order that had been reminded, with what is still
open if it was partial. One per movement (`about` = payment:<movement id>), never twice; a payment seen by several
sources is one movement, so it is thanked for once."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dunning.columns import CHARGE_COLUMNS, NOTICE_COLUMNS
from dunning.journal import balance, queue
from dunning.policy import CONFIRMATION


def due(db: sa.Connection, as_of: date, within_days: int) -> pd.DataFrame:
    """The payments to confirm, one row each in the shape of a reminder (NOTICE_COLUMNS): `paid_amount` is the
    payment, `open_amount` what is still open after it (fees included). Only payments made in the `within_days`
    before `as_of` (older ones were never news), on orders with a reminder sent before them; read on `db`, so a
    campaign confirms in the transaction that recorded the payments."""
    history = queue.history(db)
    reminded = history[history["about"] == ""].groupby("order_id")["reminded_on"].min()
    held = balance.book(db, sorted(reminded.index))
    settled = held.settle(as_of)
    moved = held.movements
    since = pd.Timestamp(as_of - timedelta(days=within_days))
    paid = moved[(moved["amount"] > 0) & (moved["occurred_on"] >= since) & (moved["occurred_on"] <= pd.Timestamp(as_of))]
    order_ids = held.orders["order_id"].to_numpy()
    first = pd.Series(order_ids[paid["code"].to_numpy(dtype="int64")], index=paid.index).map(reminded)
    paid = paid[first.notna() & (paid["occurred_on"] >= first)]
    sent = set(history.loc[history["stage"] == CONFIRMATION, "about"])
    paid = paid[~("payment:" + paid["id"].astype(str)).isin(sent)].sort_values(["occurred_on", "id"], kind="stable")
    codes = paid["code"].to_numpy(dtype="int64")
    orders = held.orders.iloc[codes].reset_index(drop=True)
    frame = pd.DataFrame({
        "order_id": orders["order_id"], "email": orders["email"], "first_name": orders["first_name"],
        "last_name": orders["last_name"], "language": orders["language"], "product_name": orders["product_name"],
        "created_at": pd.NaT, "kind": "", "payment_method": "", "currency": orders["currency"], "status": "",
        "open_amount": pd.array(settled.owed_now[codes], dtype="Int64"), "paid_amount": pd.array(paid["amount"].to_numpy(), dtype="Int64"),
        **{column: pd.array(np.zeros(len(codes), dtype="int64"), dtype="Int64") for column in CHARGE_COLUMNS},
        "oldest_due_date": paid["occurred_on"].dt.date.to_numpy(), "days_overdue": 0, "open_installments": 0,
        "stage": CONFIRMATION, "reason": "", "reminders_sent": 0, "last_stage": "", "last_reminded_on": pd.NaT,
        "about": "payment:" + paid["id"].astype(str).to_numpy(),
    }, columns=NOTICE_COLUMNS)
    return frame
