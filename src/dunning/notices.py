"""Notices before a due date: a stage with negative days (-7: a week ahead) for orders with nothing overdue whose
next open installment falls due within it, one per installment and stage, never one already sent."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from dunning import exclusions
from dunning.columns import CHARGE_COLUMNS, NOTICE_COLUMNS
from dunning.exclusions import Filters
from dunning.policy import Policy


def upcoming(orders: pd.DataFrame, rec: pd.DataFrame, late_open: np.ndarray, paid: np.ndarray, as_of: date,
             policy: Policy, history: pd.DataFrame | None, filters: Filters, closed: pd.Series | None) -> pd.DataFrame:
    """Orders with nothing overdue whose next open installment falls due within a notice stage's days: one notice
    per installment and stage (`about` = due:<date>), the latest stage reached, never one already sent."""
    notice_stages = policy.notice_stages
    if not notice_stages:
        return pd.DataFrame(columns=NOTICE_COLUMNS)
    today = np.datetime64(as_of, "D")
    codes, open_amount = rec["code"].to_numpy(), rec["amount_open"].to_numpy()
    due_days = rec["due_date"].to_numpy().astype("datetime64[D]")
    ahead = (open_amount > 0) & (due_days >= today) & (due_days <= today + np.timedelta64(-notice_stages[0].days, "D"))
    ahead &= late_open[codes] == 0
    picked, first = np.unique(codes[ahead], return_index=True)  # rows run by order and due date: the next one first
    frame = orders.take(picked).copy()
    frame["open_amount"] = pd.array(open_amount[ahead][first], dtype="Int64")
    frame["paid_amount"] = pd.array(paid[picked], dtype="Int64")
    frame["open_installments"] = 1
    due = due_days[ahead][first]
    frame["days_overdue"] = (today - due).astype("int64")
    frame["oldest_due_date"] = pd.Series(due, index=frame.index).dt.date
    stage = pd.Series("", index=frame.index, dtype="string")
    for notice in notice_stages:  # the earliest first: a later stage reached replaces it
        stage[frame["days_overdue"] >= notice.days] = notice.name
    frame["stage"], frame["reason"] = stage, "upcoming"
    for column in CHARGE_COLUMNS:  # a notice before the due date asks no fee, interest or costs
        frame[column] = pd.array([0] * len(frame), dtype="Int64")
    frame["reminders_sent"], frame["last_stage"], frame["last_reminded_on"] = 0, "", pd.NaT
    frame["about"] = "due:" + pd.Series(due, index=frame.index).dt.strftime("%Y-%m-%d")
    why = exclusions.why_not(frame, as_of, replace(policy, cooldown_days=0), pd.Series("", index=frame.index, dtype="string"), closed)
    if history is not None and not history.empty and "about" in history:
        sent = set(zip(history["order_id"], history["stage"], history["about"]))
        already = pd.Series([key in sent for key in zip(frame["order_id"], frame["stage"], frame["about"])], index=frame.index,
                            dtype=bool)
        why[already & (why == "")] = "notice sent"
    chosen = exclusions.filtered(frame[why == ""], filters)
    return chosen.sort_values(["oldest_due_date", "order_id"], kind="stable")[NOTICE_COLUMNS].reset_index(drop=True)
