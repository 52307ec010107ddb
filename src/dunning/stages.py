"""Which reminder stage each overdue order is due for: the one after the last it actually received.

A customer never skips a stage: an order that reached the final stage's days but was never
reminded gets the friendly reminder first (unless `policy.skip_stages` is on). The reminders
counted are those sent or handed over through any channel (the store's history); a notice before a due
date or a payment confirmation is not a reminder.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from dunning.policy import Policy


def assign(frame: pd.DataFrame, policy: Policy, history: pd.DataFrame | None, as_of: date) -> pd.Series:
    """Set `stage`, `fee`, `reminders_sent`, `last_stage` and `last_reminded_on` on the overdue frame; return,
    per order, why no reminder is due now ("" where one is, or where no stage is reached yet)."""
    dunning = policy.dunning_stages
    names = [s.name for s in dunning]
    reached = np.full(len(frame), -1)
    for position, stage in enumerate(dunning):
        reached[(frame["days_overdue"] >= stage.days).to_numpy()] = position
    sent = _sent(history, names, frame["order_id"])
    last = sent["last"].to_numpy()
    target = reached if policy.skip_stages else np.minimum(reached, last + 1)
    due = target > last
    stage = pd.Series("", index=frame.index, dtype="string")
    fee = pd.Series(0, index=frame.index, dtype="Int64")
    for position, s in enumerate(dunning):
        here = pd.Series(due & (target == position), index=frame.index)
        stage[here] = s.name
        fee[here] = frame.loc[here, "currency"].map(s.fees).fillna(0).astype("Int64")
    frame["stage"] = stage
    frame["fee"] = fee
    frame["reminders_sent"] = sent["count"].to_numpy()
    frame["last_stage"] = pd.Series([names[i] if i >= 0 else "" for i in last], index=frame.index, dtype="string")
    frame["last_reminded_on"] = sent["on"].to_numpy()
    waiting = pd.Series("", index=frame.index, dtype="string")
    for position in np.unique(last[~due & (last >= 0)]):
        if position == len(names) - 1:
            text = f"every stage was sent (the last: {names[-1]})"
        else:
            upcoming = dunning[position + 1]
            text = f"{names[position]} sent; {upcoming.name} follows at {upcoming.days} days overdue"
        waiting[~due & (last == position)] = text
    return waiting


def _sent(history: pd.DataFrame | None, names: list[str], order_ids: pd.Series) -> pd.DataFrame:
    """Per order: the furthest stage position sent (-1: none), how many reminders, and the latest date."""
    index = pd.Index(order_ids)
    if history is None or history.empty:
        return pd.DataFrame({"last": -1, "count": 0, "on": pd.NaT}, index=index)
    mine = history[history["order_id"].isin(index)]
    if "about" in mine:
        mine = mine[mine["about"] == ""]  # dunning stages, not notices before a due date or thanks
    position = mine["stage"].map({name: i for i, name in enumerate(names)}).fillna(-1).astype("int64")
    grouped = mine.assign(position=position).groupby("order_id")
    return pd.DataFrame({
        "last": grouped["position"].max(), "count": grouped.size(), "on": pd.to_datetime(grouped["reminded_on"].max()),
    }).reindex(index).fillna({"last": -1, "count": 0}).astype({"last": "int64", "count": "int64"})
