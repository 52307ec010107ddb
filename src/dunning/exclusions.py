"""Which found orders are left out, and why: closed statuses, the merchant's decisions, holds, the minimum amount, the
cooldown, a stage not yet due; and the filters a command or campaign asks for."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from dunning.money import exponent
from dunning.policy import Policy
from dunning.sources.loader import CLOSED_STATUSES


@dataclass(frozen=True)
class Filters:
    """Narrow the overdue list; empty means no filter. `min_amount` is in major units of each order's currency."""

    kinds: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    min_days: int = 0
    min_amount: Decimal | None = None

    def describe(self) -> dict:
        """The filters that are set, for manifests and file names."""
        out = {k: list(v) for k, v in vars(self).items() if isinstance(v, tuple) and v}
        if self.min_days:
            out["min_days"] = self.min_days
        if self.min_amount is not None:
            out["min_amount"] = str(self.min_amount)
        return out


def why_not(frame: pd.DataFrame, as_of: date, policy: Policy, waiting: pd.Series,
                closed: pd.Series | None = None) -> pd.Series:
    """Why an overdue order is not dunned ("" when it is)."""
    why = pd.Series("", index=frame.index, dtype="string")

    def mark(mask: pd.Series, text: str | pd.Series) -> None:
        mask = mask & (why == "")
        why[mask] = text[mask] if isinstance(text, pd.Series) else text

    if closed is not None and len(closed):
        decision = frame["order_id"].astype(object).map(closed.to_dict())  # order ids may be Arrow-backed: map as objects
        mark(decision.notna(), decision.fillna("").astype("string"))

    mark(frame["status"].isin(CLOSED_STATUSES), "order is " + frame["status"].astype("string"))
    mark(frame["status"] == "paid", "the shop marks the order as paid")
    for hold in policy.holds:
        if not hold.active(as_of):
            continue
        target = frame["order_id"] == hold.order_id if hold.order_id else frame["email"].str.lower() == hold.email
        until = f" until {hold.until.isoformat()}" if hold.until else ""
        mark(target, f"on hold{until}: {hold.reason}")
    minimum = frame["currency"].map(policy.minimum_amount).fillna(0).astype("int64")
    mark(frame["open_amount"] < minimum, "below the minimum amount")
    if policy.cooldown_days:
        recent = pd.to_datetime(frame["last_reminded_on"]) > pd.Timestamp(as_of - timedelta(days=policy.cooldown_days))
        mark(recent.fillna(False), f"reminded within the last {policy.cooldown_days} days")
    mark(waiting != "", waiting)
    return why


def filtered(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for column, wanted in (
        ("kind", filters.kinds), ("payment_method", filters.payment_methods),
        ("currency", filters.currencies), ("stage", filters.stages),
    ):
        if wanted:
            keep &= frame[column].isin(wanted)
    if filters.products:
        folded = frame["product_name"].str.casefold()
        keep &= np.logical_or.reduce([folded.str.contains(p.casefold(), regex=False) for p in filters.products])
    if filters.min_days:
        keep &= frame["days_overdue"] >= filters.min_days
    if filters.min_amount is not None:
        minimum = frame["currency"].map(lambda c: math.ceil(filters.min_amount.scaleb(exponent(c))))
        keep &= frame["open_amount"] >= minimum
    return frame[keep]
