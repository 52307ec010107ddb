"""Default interest, per day, on the principal in default, set-based over integer order codes.

An installment is in default from its start day (the day after its due date, or after the first reminder, as the law
says). On each day up to and including the as-of date, the principal in default is what those installments come to,
less the money in by that day (money in settles the oldest installments first, and those are the ones in default
first: the balance's own order). A payment stops interest from its own day. Each day earns the rate in force that day
over 365; the sum is rounded half up to the currency's minor unit once, at the end.
"""
from __future__ import annotations

from datetime import date

import numpy as np

from dunning.journal.balance import running_total

YEAR_DAYS = 365
_SCALE = YEAR_DAYS * 100 * 100  # rates are in hundredths of a percent


def accrued(n_orders: int, code: np.ndarray, start: np.ndarray, amount: np.ndarray, move_code: np.ndarray,
            move_amount: np.ndarray, move_on: np.ndarray, rate_from: np.ndarray, rate: np.ndarray, as_of: date) -> np.ndarray:
    """Interest in minor units per order code as of `as_of`.

    Installments: `code`, `start` (datetime64[D], the first day in default), `amount`; money in: `move_code`,
    `move_amount` (signed), `move_on`; the rate: from each day of `rate_from` on, `rate` hundredths of a percent a year
    (one entry for a fixed rate, from any early day)."""
    today = np.datetime64(as_of, "D")
    owing = start <= today
    code, start, amount = code[owing], start[owing], amount[owing]
    out = np.zeros(n_orders, dtype="int64")
    if not len(code):
        return out
    first = np.full(n_orders, today + 1)
    np.minimum.at(first, code, start)
    counted = (move_on <= today) & (move_code >= 0) & (move_code < n_orders)
    changes = rate_from[(rate_from > start.min()) & (rate_from <= today)]
    in_default = np.unique(code)
    days = np.concatenate([start, move_on[counted], np.repeat(changes[None, :], len(in_default), axis=0).ravel()])
    codes = np.concatenate([code, move_code[counted], np.repeat(in_default, len(changes))])
    due_step = np.concatenate([amount, np.zeros(counted.sum() + len(in_default) * len(changes), dtype="int64")])
    paid_step = np.concatenate([np.zeros(len(code), dtype="int64"), move_amount[counted],
                                np.zeros(len(in_default) * len(changes), dtype="int64")])
    order = np.lexsort((days, codes))
    days, codes, due_step, paid_step = days[order], codes[order], due_step[order], paid_step[order]
    owed = running_total(due_step, codes)
    paid = running_total(paid_step, codes)
    last = np.r_[codes[1:] != codes[:-1], True]
    until = np.where(last, today + 1, np.r_[days[1:], today + 1])
    length = np.maximum((until - np.maximum(days, first[codes])).astype("int64"), 0)
    principal = np.maximum(owed - np.maximum(paid, 0), 0)
    in_force = np.clip(np.searchsorted(rate_from, days, side="right") - 1, 0, None)
    yearly = np.maximum(rate[in_force], 0)
    earned = principal.astype(object) * yearly.astype(object) * length.astype(object)  # exact: no int64 overflow
    totals = np.zeros(n_orders, dtype=object)
    np.add.at(totals, codes, earned)
    return np.array([(t + _SCALE // 2) // _SCALE for t in totals], dtype="int64")
