"""The recovery report: the tables (for the terminal and JSON) and the headline per currency; the HTML page and the
merchant's dashboard draw the same report (`report_html`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from dunning import tracking
from dunning.money import to_major_string
from dunning.journal.store import Store

DIMENSIONS = {"campaign": ["source"], "stage": ["stage"], "reason": ["reason"], "payment method": ["payment_method"]}
MONEY = ("amount_reminded", "amount_recovered", "still_open", "amount_closed", "amount_announced", "amount_paid_on_time",
         "amount", "reminded", "recovered", "closed", "amount_charged", "amount_settled", "amount_open")
# The terminal shows these of the figures; --json and --html carry every column.
TERMINAL_COLUMNS = ("orders_reminded", "amount_reminded", "amount_recovered", "still_open", "rate_by_amount",
                    "median_days_to_payment")
DETAIL_SUFFIXES = ("_paid", "rate_by_count", "left_list", "opened", "amount_closed")


@dataclass
class Report:
    """One report: the recovery rows it is made of, its tables and its headline."""

    as_of: date
    rows: pd.DataFrame
    tables: dict[str, pd.DataFrame]

    @property
    def headline(self) -> pd.DataFrame:
        """Per currency, counting each order once (from its first reminder): orders reminded, amount reminded,
        recovered, recovery rate, still open, closed by the merchant (what was open when they decided, as the table
        of what you closed says), median days to payment."""
        return headline(self.rows, self.tables.get("closed by you"))


def gather(store: Store, as_of: date, campaign: str | None = None, since: date | None = None) -> Report:
    """The report as of a date: the reminders sent up to `as_of` (from `since`, of one campaign), what came in."""
    sent, paid = tracking.sent_reminders(store), tracking.payments_known(store)  # read once, for every table
    rows = tracking.recovery(store, as_of, campaign, sent=sent, paid=paid)
    if since is not None:
        rows = rows[rows["as_of"] >= pd.Timestamp(since)].reset_index(drop=True)
    notices = tracking.notice_outcomes(store, as_of, sent=sent, paid=paid)
    tables = build(rows, as_of, notices, tracking.decided_amounts(store, as_of))
    tables["fees, interest and costs"] = tracking.charges_asked(store, as_of)
    return Report(as_of, rows, tables)


def build(rows: pd.DataFrame, as_of: date, notices: pd.DataFrame | None = None,
          decided: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the report, money still in minor units."""
    tables = {f"by {name}": tracking.figures(rows, keys) for name, keys in DIMENSIONS.items()}
    tables["by currency"] = tracking.figures(rows, [])
    tables["days to payment"] = tracking.days_distribution(rows)
    tables["cohorts"] = tracking.cohorts(rows, as_of)
    tables["ageing of what is still open"] = tracking.ageing(rows)
    if notices is not None:
        tables["notices before the due date"] = notices
    if decided is not None:
        tables["closed by you"] = decided
    return tables


def headline(rows: pd.DataFrame, decided: pd.DataFrame | None = None) -> pd.DataFrame:
    columns = ["currency", "orders", "reminded", "recovered", "rate", "still_open", "closed", "median_days"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    first = rows.sort_values("as_of", kind="stable").drop_duplicates("order_id", keep="first")
    table = first.groupby("currency", sort=True).agg(
        orders=("order_id", "size"), reminded=("reminded", "sum"), recovered=("recovered", "sum"),
        still_open=("still_open", "sum"), closed=("closed", "sum"),
        median_days=("days_to_first_payment", lambda d: d.dropna().astype("float64").median())).reset_index()  # money-safe: days
    table["rate"] = table["recovered"] / table["reminded"].where(table["reminded"] > 0)  # money-safe: a ratio
    if decided is not None:
        table["closed"] = table["currency"].map(decided.groupby("currency")["amount"].sum()).fillna(0).astype("int64")
    return table[columns]


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """Money as decimal strings in each row's currency, rates as percentages, for people and JSON."""
    out = table.copy()
    for column in MONEY:
        if column in out and "currency" in out:
            out[column] = [to_major_string(int(v), c) for v, c in zip(out[column], out["currency"])]
    for column in [c for c in out.columns if c.startswith("rate_") or c.startswith("after_")]:
        out[column] = [None if pd.isna(v) else f"{float(v) * 100:.1f}%" for v in out[column]]  # money-safe: a ratio
    if "median_days_to_payment" in out:
        out["median_days_to_payment"] = [None if pd.isna(v) else float(v) for v in out["median_days_to_payment"]]  # money-safe: days
    for column in ("week",):
        if column in out:
            out[column] = [str(v) for v in out[column]]
    return out


def as_json(tables: dict[str, pd.DataFrame]) -> dict:
    return {name: readable(table).astype(object).where(lambda t: t.notna(), None).to_dict("records") for name, table in tables.items()}
