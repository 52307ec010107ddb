"""Plans to due installments: installment n falls on start + n x interval, counted from the start."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from dateutil.relativedelta import relativedelta

RECEIVABLE_COLUMNS = ["order_id", "seq", "due_date", "amount_due", "amount_paid"]


def due_date(start: date, n: int, months: int, days: int) -> date:
    """The n-th due date (0-based) of a plan: start + n x interval, so Jan 31 -> Feb 28 -> Mar 31."""
    return start + relativedelta(months=n * months, days=n * days)


CHUNK = 200_000


def expand(plans: pd.DataFrame, until: date) -> pd.DataFrame:
    """One receivable per installment, computed a chunk of plans at a time (bounded temporary memory).

    Plans with a number of installments give all of them (capped by `end_date`); open-ended
    plans give those falling on or before `until` (and `end_date`). Installments due before a
    plan's `next_payment_date` count as paid. The first installment is reduced by
    `first_payment_discount`.
    """
    if plans.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(RECEIVABLE_COLUMNS, ["string", "int64", "datetime64[s]", "Int64", "Int64"])})
    if len(plans) > CHUNK:
        return pd.concat([_expand(plans.iloc[i:i + CHUNK], until) for i in range(0, len(plans), CHUNK)], ignore_index=True)
    return _expand(plans, until)


def _expand(plans: pd.DataFrame, until: date) -> pd.DataFrame:
    """`expand` for one chunk of plans."""
    start = plans["start_date"].to_numpy(dtype="datetime64[D]")
    months = plans["months"].fillna(0).to_numpy(dtype="int64")
    days = plans["days"].fillna(0).to_numpy(dtype="int64")
    limit = np.full(len(plans), np.datetime64(until, "D"))
    end = plans["end_date"].to_numpy(dtype="datetime64[D]")
    has_end = ~np.isnat(end)
    open_limit = np.where(has_end & (end < limit), end, limit)
    counts = _count_until(start, months, days, open_limit)
    fixed = plans["installments"].to_numpy(dtype="float64", na_value=np.nan)  # money-safe: counts, not money
    finite = ~np.isnan(fixed)
    fixed_counts = np.where(finite, np.nan_to_num(fixed), 0).astype("int64")
    capped = np.where(has_end, np.minimum(fixed_counts, _count_until(start, months, days, np.where(has_end, end, start))), fixed_counts)
    counts = np.where(finite, capped, counts)

    row = np.repeat(np.arange(len(plans)), counts)
    offsets = np.cumsum(counts) - counts
    n = np.arange(len(row)) - np.repeat(offsets, counts)
    due = _add_intervals(start[row], n, months[row], days[row])

    amount = plans["installment_amount"].to_numpy(dtype="int64", na_value=0)[row]
    discount = plans["first_payment_discount"].fillna(0).to_numpy(dtype="int64")[row]
    amount = np.where(n == 0, np.maximum(amount - discount, 0), amount)
    settled_before = plans["next_payment_date"].to_numpy(dtype="datetime64[D]")[row]
    paid = np.where(~np.isnat(settled_before) & (due < settled_before), amount, 0)
    order_ids = pa.array(plans["order_id"].astype("string"), type=pa.large_string())
    return pd.DataFrame({
        "order_id": pd.Series(pd.arrays.ArrowExtensionArray(order_ids.take(pa.array(row))), dtype="string"),
        "seq": n + 1,
        "due_date": due.astype("datetime64[s]"),
        "amount_due": pd.array(amount, dtype="Int64"),
        "amount_paid": pd.array(paid, dtype="Int64"),
    })


def last_due(start: pd.Series, months: pd.Series, days: pd.Series, installments: pd.Series) -> pd.Series:
    """The date the last installment of each plan with a number of them falls on (NaT for open-ended plans)."""
    known = (start.notna() & months.notna() & installments.notna() & (installments > 0)).to_numpy()
    out = np.full(len(start), np.datetime64("NaT"), dtype="datetime64[D]")
    if known.any():
        out[known] = _add_intervals(start.to_numpy(dtype="datetime64[D]")[known],
                                    installments.to_numpy(dtype="int64", na_value=1)[known] - 1,
                                    months.to_numpy(dtype="int64", na_value=0)[known], days.fillna(0).to_numpy(dtype="int64")[known])
    return pd.Series(out, index=start.index)


def _add_intervals(start: np.ndarray, n: np.ndarray, months: np.ndarray, days: np.ndarray) -> np.ndarray:
    """start + n x (months, days), day clipped to the target month's length, vectorised."""
    month_start = start.astype("datetime64[M]")
    day = (start - month_start.astype("datetime64[D]")).astype("int64")
    target = month_start + (n * months).astype("timedelta64[M]")
    month_length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype("int64")
    clipped = np.minimum(day, month_length - 1)
    return target.astype("datetime64[D]") + clipped.astype("timedelta64[D]") + (n * days).astype("timedelta64[D]")


def _count_until(start: np.ndarray, months: np.ndarray, days: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """How many installments fall on or before `limit` (0 when it is before the start)."""
    month_steps = (limit.astype("datetime64[M]") - start.astype("datetime64[M]")).astype("int64")
    day_steps = (limit - start).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(months > 0, month_steps // np.maximum(months, 1), day_steps // np.maximum(days, 1))
    k = np.maximum(k, 0)
    k = np.where(_add_intervals(start, k, months, days) > limit, k - 1, k)
    return np.where(limit < start, 0, k + 1).astype("int64")
