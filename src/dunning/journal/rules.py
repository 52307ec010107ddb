"""The rules every payment follows on its way into the journal, whatever its source (file, webhook, statement).

* a payment in another currency than its order's, or dated after the as-of date, is refused with its reason;
* a payment without a currency takes its order's (and is read in its decimals); with neither, it is refused;
* its identity is its source and key: the payment id where the source gives one (the same id from the same source
  again is a no-op), else the row's content (order, date, amount, currency, kind, and which of identical rows it
  is), so a file imported again, under any name, counts once, and a file that repeats earlier payments adds only
  the new ones;
* the payment id is also its reference: the same id from another source is the same movement (`matcher`).
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from dunning.money import exponents, rescale
from dunning.journal.recording import OBSERVED_COLUMNS
from dunning.sources.rejects import REJECT_COLUMNS


def observed(candidates: pd.DataFrame, currency: pd.Series, today: date, *, source: str, origin: str,
             file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations (OBSERVED_COLUMNS) and rejects for candidates: order_id, paid_at, amount (signed), currency ("" takes
    the order's), payment_id ("" keys the row by its content), kind, row (for the rejects), and optionally
    amount_exponent (read before its currency was known), reference and note. `currency`: order_id -> the order's."""
    frame = candidates.reset_index(drop=True).copy()
    frame["paid_at"] = pd.to_datetime(frame["paid_at"])
    known = frame["order_id"].map(currency).astype(object)
    given = frame["currency"].fillna("").astype(str)
    frame["currency"] = given.where(given != "", known.fillna("").astype(str))
    problem = pd.Series("", index=frame.index, dtype=object)
    column = pd.Series("paid_at", index=frame.index, dtype=object)
    problem[frame["paid_at"] > pd.Timestamp(today)] = f"paid_at is after {today.isoformat()} (a date in the future)"
    mismatch = known.notna() & (frame["currency"] != known) & (problem == "")
    problem[mismatch] = "currency " + frame.loc[mismatch, "currency"] + " differs from the order's " + known[mismatch].astype(str)
    column[mismatch] = "currency"
    no_currency = (frame["currency"] == "") & (problem == "")
    problem[no_currency] = "no currency, and the order is not known"
    column[no_currency] = "currency"
    if "amount_exponent" in frame:
        named = frame["currency"].where(frame["currency"] != "", "EUR")
        frame["amount"], exact = rescale(frame["amount"], frame["amount_exponent"], exponents(named))
        too_precise = ~exact & (problem == "")
        problem[too_precise] = "amount has more decimals than the order's currency " + frame.loc[too_precise, "currency"]
        column[too_precise] = "amount"
    refused = problem != ""
    rejected = pd.DataFrame({"file": file, "row": frame.loc[refused, "row"], "column": column[refused],
                             "reason": problem[refused], "value": frame.loc[refused, "order_id"]}, columns=REJECT_COLUMNS)
    good = frame[~refused].copy()
    good["amount"] = good["amount"].astype("int64")
    kind = good["kind"].fillna("payment").astype(str) if "kind" in good else pd.Series("payment", index=good.index)
    given_id = good["payment_id"].fillna("").astype(str)
    key = given_id.copy()
    unnamed = (given_id == "").to_numpy(dtype=bool)
    if unnamed.any():  # which of identical rows it is counts every row of the file, with an id or without
        content = (good["order_id"].astype(str) + "|" + good["paid_at"].dt.strftime("%Y-%m-%d") + "|" + good["amount"].astype(str)
                   + "|" + good["currency"] + "|" + kind)
        key[unnamed] = ("row:" + content + "|" + content.groupby(content).cumcount().astype(str)).to_numpy()[unnamed]
    out = pd.DataFrame({
        "source": source, "source_key": key, "origin": origin, "order_id": good["order_id"].astype(str), "kind": kind,
        "amount": good["amount"], "currency": good["currency"], "occurred_on": good["paid_at"],
        "reference": good["reference"].fillna("").astype(str) if "reference" in good else given_id,
        "note": good["note"].fillna("").astype(str) if "note" in good else "",
        "review": good["review"].fillna(False).astype(bool) if "review" in good else False,
    }, columns=OBSERVED_COLUMNS)
    return out.reset_index(drop=True), rejected.reset_index(drop=True)
