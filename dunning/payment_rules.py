"""The rules every payment follows on its way into the ledger, whatever its source (file, webhook, statement).

* a payment in another currency than its order's, or dated after today, is refused with its reason;
* a payment without a currency takes its order's (and is read in its decimals); with neither, it is refused;
* a payment without an id gets one from its order, date, amount and place in the file, so a file
  imported twice counts once;
* a payment for an order the ledger does not know (and the export being read does not show) is
  stored and flagged `unrelated`;
* a payment that takes an order past everything it owes (every installment still open in the
  latest view, plus the fee) is stored and flagged `overpayment`.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from dunning import ledger
from dunning.arrowtext import contained, looked_up
from dunning.money import exponents, rescale
from dunning.schema import PAYMENT_COLUMNS
from dunning.sources.rejects import REJECT_COLUMNS

UNRELATED, OVERPAYMENT = "unrelated", "overpayment"


def owed(state: ledger.LedgerState, as_of: date) -> pd.Series:
    """Per order the ledger knows: what is still open in its latest view plus its fee, less the ledger's pending payments."""
    fee = state.orders.set_index("order_id")["fee"].astype("int64")
    open_total = state.views.groupby("order_id")["amount_open"].sum().reindex(fee.index, fill_value=0)
    return (open_total + fee).sub(ledger.pending(state.payments, as_of), fill_value=0).reindex(fee.index)


def checked(candidates: pd.DataFrame, currency: pd.Series, owed_now: pd.Series, today: date, *,
            source: str, file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Payment rows (PAYMENT_COLUMNS) and rejects for candidates: order_id, paid_at, amount, currency
    ("" takes the order's), payment_id ("" derives one) and row (for the rejects)."""
    frame = candidates.reset_index(drop=True).copy()
    frame["paid_at"] = pd.to_datetime(frame["paid_at"])
    known = looked_up(frame["order_id"], currency).astype("object")
    given = frame["currency"].fillna("").astype("string")
    frame["currency"] = given.where(given != "", known.fillna("").astype("string"))
    problem = pd.Series("", index=frame.index, dtype="string")
    column = pd.Series("paid_at", index=frame.index, dtype="string")
    problem[frame["paid_at"] > pd.Timestamp(today)] = f"paid_at is after {today.isoformat()} (a date in the future)"
    mismatch = known.notna() & (frame["currency"] != known) & (problem == "")
    problem[mismatch] = "currency " + frame.loc[mismatch, "currency"] + " differs from the order's " + known[mismatch].astype("string")
    column[mismatch] = "currency"
    no_currency = (frame["currency"] == "") & (problem == "")
    problem[no_currency] = "no currency, and the order is not known"
    column[no_currency] = "currency"
    if "amount_exponent" in frame:  # read before its currency was known: now in the order's minor units
        named = frame["currency"].where(frame["currency"] != "", "EUR")
        frame["amount"], exact = rescale(frame["amount"], frame["amount_exponent"], exponents(named))
        too_precise = ~exact & (problem == "")
        problem[too_precise] = "amount has more decimals than the order's currency " + frame.loc[too_precise, "currency"]
        column[too_precise] = "amount"
    refused = problem != ""
    rejected = pd.DataFrame({"file": file, "row": frame.loc[refused, "row"], "column": column[refused],
                             "reason": problem[refused], "value": frame.loc[refused, "order_id"]}, columns=REJECT_COLUMNS)
    good = frame[~refused].copy()
    occurrence = good.groupby(["order_id", "paid_at", "amount"]).cumcount()
    given_id = good["payment_id"].fillna("").astype("string")
    unnamed = given_id == ""
    nameless = good[unnamed]
    given_id[unnamed] = (f"{source}:" + nameless["order_id"].astype("string") + ":" + nameless["paid_at"].dt.strftime("%Y-%m-%d")
                         + ":" + nameless["amount"].astype("string") + ":" + occurrence[unnamed].astype("string"))
    good["payment_id"] = given_id
    running = good.groupby("order_id")["amount"].cumsum()
    flag = pd.Series("", index=good.index, dtype="object")
    flag[~contained(good["order_id"], pd.Series(currency.index, dtype="object"))] = UNRELATED
    limit = looked_up(good["order_id"], owed_now.fillna(0).astype("int64"), default=0).to_numpy(dtype="int64")
    flag[(flag == "") & (running.to_numpy(dtype="int64") > limit)] = OVERPAYMENT
    rows = good.assign(kind=ledger.DIRECT, source=source, flag=flag, amount=good["amount"].astype("int64"))
    return rows[PAYMENT_COLUMNS].reset_index(drop=True), rejected.reset_index(drop=True)


def as_records(rows: pd.DataFrame) -> list[dict]:
    """Payment rows as dicts for the store (dates as dates), built column-wise (hundreds of thousands at once)."""
    columns = {c: rows[c].tolist() for c in PAYMENT_COLUMNS if c not in ("paid_at", "amount")}
    columns["paid_at"] = pd.to_datetime(rows["paid_at"]).dt.date.tolist()
    columns["amount"] = [int(a) for a in rows["amount"].to_numpy(dtype="int64")]
    return [dict(zip(columns, values)) for values in zip(*columns.values())]
