"""What the law lets a reminder ask on top of the principal, per overdue order, as of a date: the default interest
accrued and not yet asked, a lump sum or the collection costs once, and the costs a fourteen-day letter announces.
Asking is not charging: a reminder's interest and costs become charges only when it is sent (like its fee)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dunning.errors import InputError
from dunning.journal.balance import Settled
from dunning.law import interest
from dunning.law.costs import collection_costs
from dunning.law.presets import REMINDER, Law
from dunning.law.rates import Rates

LETTER_TERM_DAYS = 14  # art. 6:96 lid 6 BW: fourteen days, starting the day after receipt


@dataclass(frozen=True)
class Statute:
    """A market's law with the rates it reads, and the policy stage that is its fourteen-day letter ("" where none)."""

    law: Law
    rates: Rates
    letter_stage: str = ""

    def yearly_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """From which days which rate applies, in hundredths of a percent a year (points included)."""
        points = int(self.law.points * 100)
        if not self.law.rate_table:
            return np.array(["1900-01-01"], dtype="datetime64[D]"), np.array([points], dtype="int64")
        days, rates = self.rates.periods(self.law.rate_table)
        if not len(days):
            raise InputError(f"the law {self.law.name} reads the rate table {self.law.rate_table}, which holds no rate: "
                             f"add one with `dunning rates add {self.law.rate_table} DATE PERCENT`")
        return days, rates + points


def ask(frame: pd.DataFrame, settled: Settled, codes: np.ndarray, history: pd.DataFrame | None, claims: pd.DataFrame | None,
        statute: Statute | None, as_of: date) -> None:
    """Set `interest`, `costs` (what a reminder now asks), `interest_open`, `costs_open` (charged earlier, still open) and
    `costs_warning` (the costs a fourteen-day letter announces) on the overdue frame; `codes` are its orders' codes in
    `settled`. Without a law every one is 0."""
    n = len(frame)
    for column in ("interest", "costs", "interest_open", "costs_open", "costs_warning"):
        frame[column] = pd.array(np.zeros(n, dtype="int64"), dtype="Int64")
    if n == 0:
        return
    frame["interest_open"] = pd.array(settled.interest_open[codes], dtype="Int64")
    frame["costs_open"] = pd.array(settled.costs_open[codes], dtype="Int64")
    if statute is None:
        return
    law = statute.law
    claimed = (claims if claims is not None else pd.DataFrame(columns=["interest", "costs"])).reindex(frame["order_id"]).fillna(0)
    if law.charges_interest:
        accrued = _accrued(frame, settled, codes, history, statute, as_of)
        frame["interest"] = pd.array(np.maximum(accrued - claimed["interest"].to_numpy(dtype="int64"), 0), dtype="Int64")
    # costs once per order, in the currency the law sets them in
    may_cost = (frame["currency"] == law.currency).fillna(False).to_numpy(dtype=bool) & (claimed["costs"].to_numpy(dtype="int64") == 0)
    principal = frame["open_amount"].to_numpy(dtype="int64", na_value=0)
    if law.lump_sum:
        frame["costs"] = pd.array(np.where(may_cost & (principal > 0), law.lump_sum, 0), dtype="Int64")
    if law.scale:
        letter = _letter_sent(frame, history, statute.letter_stage)
        term_over = (letter + np.timedelta64(LETTER_TERM_DAYS + 1, "D")) <= np.datetime64(as_of, "D")
        frame["costs"] = pd.array(np.where(may_cost & term_over, collection_costs(principal), 0), dtype="Int64")
        announcing = (frame["stage"] == statute.letter_stage).fillna(False).to_numpy(dtype=bool) & may_cost
        frame["costs_warning"] = pd.array(np.where(announcing, collection_costs(principal), 0), dtype="Int64")


def _accrued(frame: pd.DataFrame, settled: Settled, codes: np.ndarray, history: pd.DataFrame | None, statute: Statute,
             as_of: date) -> np.ndarray:
    """The interest accrued per row of the frame, from the installments and the money in the balance counted."""
    local = np.full(max(len(settled.paid), 1), -1, dtype="int64")
    local[codes] = np.arange(len(codes))
    mine = (settled.kind == 0) & (local[settled.code] >= 0)
    code, due, amount = local[settled.code[mine]], settled.due[mine], settled.amount[mine]
    start = due + np.timedelta64(1, "D")
    if statute.law.interest_from == REMINDER:
        start = _after_first_reminder(frame, code, due, history)
    move_code, move_amount, move_on = settled.moves
    move_local = local[move_code]
    kept = move_local >= 0
    days, rates = statute.yearly_rates()
    return interest.accrued(len(frame), code, start, amount, move_local[kept], move_amount[kept], move_on[kept], days, rates, as_of)


def _after_first_reminder(frame: pd.DataFrame, code: np.ndarray, due: np.ndarray, history: pd.DataFrame | None) -> np.ndarray:
    """Per installment: the day after the first reminder sent on or after its due date (never, where none was)."""
    never = np.full(len(code), np.datetime64("9999-12-31", "D"))
    if history is None or history.empty or not len(code):
        return never
    sent = history[history["about"] == ""] if "about" in history else history
    position = pd.Series(np.arange(len(frame)), index=frame["order_id"].to_numpy())
    reminded = pd.DataFrame({"code": position.reindex(sent["order_id"].to_numpy()).to_numpy(),
                             "day": pd.to_datetime(sent["reminded_on"]).astype("datetime64[ns]")}).dropna()
    if reminded.empty:
        return never
    reminded = reminded.astype({"code": "int64"}).sort_values("day").assign(reminded=lambda f: f["day"])
    wanted = pd.DataFrame({"code": code, "day": pd.to_datetime(due).astype("datetime64[ns]"), "row": np.arange(len(code))})
    found = pd.merge_asof(wanted.sort_values("day"), reminded, on="day", by="code", direction="forward")
    first = found.sort_values("row")["reminded"].to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(first), never, first + np.timedelta64(1, "D"))


def _letter_sent(frame: pd.DataFrame, history: pd.DataFrame | None, stage: str) -> np.ndarray:
    """Per row: the day its fourteen-day letter went out (far in the future where it did not)."""
    never = np.full(len(frame), np.datetime64("9999-01-01", "D"))
    if history is None or history.empty or not stage:
        return never
    letters = history[history["stage"] == stage]
    first = pd.to_datetime(letters["reminded_on"]).groupby(letters["order_id"].to_numpy()).min()
    days = first.reindex(frame["order_id"].to_numpy()).to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(days), never, days)


def missing_rates(statute: Statute | None, as_of: date) -> str:
    """A warning where the rate table lacks the rate of a half-year up to `as_of` ("" where it is complete)."""
    if statute is None or not statute.law.rate_table:
        return ""
    since = statute.rates.missing_since(statute.law.rate_table, as_of)
    if since is None:
        return ""
    table = statute.law.rate_table
    latest = statute.rates.of(table)[-1]
    return (f"the rate table {table} holds no rate from {since} on: interest after that day uses the latest, {latest.percent} % "
            f"from {latest.valid_from}; add the published rate with `dunning rates add {table} {since} PERCENT`")

