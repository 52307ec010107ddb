"""What was paid after the reminders: snapshots, payments from three sources, recovery figures.

A snapshot records, per order, what was open and at which stage as of a date: `reminded` ones
(from `overdue --record` and prepared campaigns) are the base of the figures; `observed` ones
come from later exports. Payments come from a later export (the drop in an order's open amount),
from a payments file, or from the manage page's webhook; each has a payment id, so importing the
same thing twice counts once. A payment is credited to every reminder of its order made on or
before its date, up to what that reminder asked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from dunning.overdue import allocate
from dunning.sources.loader import OrderExport, PaymentExport
from dunning.sources.rejects import REJECT_COLUMNS
from dunning.store import Store

REMINDED, OBSERVED = "reminded", "observed"
PAYMENT, DROP, LEFT_LIST = "payment", "drop", "left_list"
UNRELATED, OVERPAYMENT = "unrelated", "overpayment"
COHORT_DAYS = (3, 7, 14, 30)
AGEING = ((1, 30, "1-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, 10**9, "90+"))
DAY_BUCKETS = ((0, 3, "0-3"), (4, 7, "4-7"), (8, 14, "8-14"), (15, 30, "15-30"), (31, 10**9, "31+"))


def record(store: Store, overdue: pd.DataFrame, source: str, as_of: date) -> int:
    """Store what each overdue order owed, and its stage, as of `as_of` under `source`. Returns how many are new."""
    rows = [
        {"source": source, "kind": REMINDED, "as_of": as_of, "order_id": r.order_id, "stage": r.stage or "",
         "reason": r.reason, "payment_method": r.payment_method or "", "currency": r.currency,
         "open_amount": int(r.open_amount), "days_overdue": int(r.days_overdue)}
        for r in overdue.itertuples()
    ]
    return store.add_snapshots(rows)


@dataclass
class Imported:
    """What an import added and what it reported."""

    payments: int
    left_list: list[str]
    unrelated: list[str]
    overpaid: list[str]
    rejected: pd.DataFrame


def import_export(store: Store, export: OrderExport, as_of: date, sources: list[str] | None = None) -> Imported:
    """A later export of the same shop: for each reminded order the drop in open amount is a payment;
    a reminded order missing from the export has 'left the list' (paid or cancelled: the export cannot tell).

    The export speaks for the reminders recorded under `sources`; by default, under the sources that
    reminded the orders it contains (so another shop's or another export's orders are left alone).
    """
    snapshots = store.snapshots_frame()
    reminded = snapshots[snapshots["kind"] == REMINDED]
    if sources is None:
        sources = sorted(set(reminded.loc[reminded["order_id"].isin(export.orders["order_id"]), "source"]))
    base = set(reminded.loc[reminded["source"].isin(sources), "order_id"])
    receivables, _ = allocate(export.receivables_until(as_of), None, as_of)
    due = receivables[receivables["due_date"] <= pd.Timestamp(as_of)]
    current = due.groupby("order_id")["amount_open"].sum()
    currency = export.orders.set_index("order_id")["currency"]
    source = f"export:{export.path.name}"
    previous = _latest_open(snapshots[snapshots["as_of"] <= pd.Timestamp(as_of)], exclude=(source, pd.Timestamp(as_of)))
    payments, observations, left = [], [], []
    for order_id in sorted(base):
        before = previous.get(order_id)
        if order_id not in current.index:
            if before is not None and before[0] > 0:
                left.append(order_id)
                payments.append({"payment_id": f"left:{order_id}", "order_id": order_id, "paid_at": as_of,
                                 "amount": before[0], "currency": before[1], "kind": LEFT_LIST, "source": source, "flag": ""})
            continue
        now_open = int(current[order_id])
        observations.append({"source": source, "kind": OBSERVED, "as_of": as_of, "order_id": order_id, "stage": "",
                             "reason": "", "payment_method": "", "currency": currency[order_id], "open_amount": now_open,
                             "days_overdue": 0})
        if before is not None and before[0] > now_open:
            payments.append({"payment_id": f"drop:{order_id}:{as_of.isoformat()}:{before[0]}>{now_open}", "order_id": order_id,
                             "paid_at": as_of, "amount": before[0] - now_open, "currency": currency[order_id],
                             "kind": DROP, "source": source, "flag": ""})
    store.add_snapshots(observations)
    store.add_payments([p for p in payments if p["kind"] == LEFT_LIST])
    added = store.add_payments([p for p in payments if p["kind"] == DROP])
    return Imported(added, left, [], [], pd.DataFrame(columns=REJECT_COLUMNS))


def _latest_open(snapshots: pd.DataFrame, exclude: tuple[str, pd.Timestamp]) -> dict[str, tuple[int, str]]:
    """Per order, the most recent open amount and currency known before this import."""
    keep = ~((snapshots["source"] == exclude[0]) & (snapshots["as_of"] == exclude[1]))
    latest = snapshots[keep].sort_values(["as_of", "kind"], kind="stable").groupby("order_id").tail(1)
    return {r.order_id: (int(r.open_amount), r.currency) for r in latest.itertuples()}


def import_payments(store: Store, paid: PaymentExport, today: date, source: str | None = None) -> Imported:
    """A payments file: stored by payment id; unrelated and overpaying ones are flagged, a currency other
    than the order's and a date after `today` are rejected."""
    snapshots = store.snapshots_frame()
    reminded = snapshots[snapshots["kind"] == REMINDED]
    order_currency = reminded.drop_duplicates("order_id").set_index("order_id")["currency"]
    asked = reminded.groupby("order_id")["open_amount"].max()
    frame = paid.payments.copy()
    frame["paid_at"] = frame["paid_at"].dt.date
    known = frame["order_id"].map(order_currency)
    currency = frame["currency"].where(frame["currency"] != "", known.fillna(""))
    problems = pd.Series("", index=frame.index, dtype="string")
    problems[frame["paid_at"] > today] = f"paid_at is after {today.isoformat()} (a date in the future)"
    mismatch = known.notna() & (currency != known)
    problems[mismatch & (problems == "")] = "currency " + currency[mismatch] + " differs from the order's " + known[mismatch].astype("string")
    problems[(currency == "") & (problems == "")] = "no currency, and the order was never reminded"
    refused = frame[problems != ""]
    rejected = pd.DataFrame({"file": str(paid.path), "row": refused["row"], "column": "paid_at",
                             "reason": problems[problems != ""], "value": refused["order_id"]})
    rejected.loc[~rejected["reason"].str.startswith("paid_at"), "column"] = "currency"
    good = frame[problems == ""].assign(currency=currency[problems == ""])
    occurrence = good.groupby(["order_id", "paid_at", "amount"]).cumcount()
    derived = [f"file:{o}:{d.isoformat()}:{a}:{n}" for o, d, a, n in zip(good["order_id"], good["paid_at"], good["amount"], occurrence)]
    good["payment_id"] = good["payment_id"].where(good["payment_id"] != "", pd.Series(derived, index=good.index))
    stored = store.payments_frame()
    earlier = stored[stored["kind"].isin([PAYMENT, DROP])].groupby("order_id")["amount"].sum()
    running = good.groupby("order_id")["amount"].cumsum() + good["order_id"].map(earlier).fillna(0)
    flag = pd.Series("", index=good.index, dtype="string")
    flag[~good["order_id"].isin(order_currency.index)] = UNRELATED
    flag[(flag == "") & (running > good["order_id"].map(asked))] = OVERPAYMENT
    rows = [{"payment_id": p, "order_id": o, "paid_at": d, "amount": int(a), "currency": c, "kind": PAYMENT,
             "source": source or f"file:{paid.path.name}", "flag": f}
            for p, o, d, a, c, f in zip(good["payment_id"], good["order_id"], good["paid_at"], good["amount"], good["currency"], flag)]
    added = store.add_payments(rows)
    return Imported(added, [], sorted(set(good.loc[flag == UNRELATED, "order_id"])),
                    sorted(set(good.loc[flag == OVERPAYMENT, "order_id"])), rejected.reset_index(drop=True))


def recovery(store: Store, as_of: date, campaign: str | None = None) -> pd.DataFrame:
    """One row per reminder (snapshot): what it asked for, what came in since, and how fast.

    Columns: source, as_of, order_id, stage, reason, payment_method, currency, reminded, recovered,
    still_open, status (full/partly/not), days_to_first_payment, days_to_full, days_overdue_now, left_list,
    opened (the manage link was visited on or after the reminder).
    """
    snaps = store.snapshots_frame()
    base = snaps[snaps["kind"] == REMINDED]
    if campaign:
        base = base[base["source"] == campaign]
    base = base.reset_index(drop=True).rename(columns={"open_amount": "reminded"})
    base["reminder"] = np.arange(len(base))
    paid = store.payments_frame()
    counted = paid[paid["kind"].isin([PAYMENT, DROP]) & (paid["paid_at"] <= pd.Timestamp(as_of))]
    left = paid[paid["kind"] == LEFT_LIST]
    matched = base[["reminder", "order_id", "as_of", "currency", "reminded"]].merge(
        counted[["order_id", "paid_at", "amount", "currency"]], on=["order_id", "currency"], how="inner")
    matched = matched[matched["paid_at"] >= matched["as_of"]].sort_values(["reminder", "paid_at"], kind="stable")
    matched["cumulative"] = matched.groupby("reminder")["amount"].cumsum()
    first = matched.groupby("reminder")["paid_at"].min()
    total = matched.groupby("reminder")["amount"].sum()
    full_at = matched[matched["cumulative"] >= matched["reminded"]].groupby("reminder")["paid_at"].min()
    out = base.copy()
    out["recovered"] = np.minimum(out["reminder"].map(total).fillna(0).astype("int64"), out["reminded"].astype("int64"))
    out["still_open"] = out["reminded"].astype("int64") - out["recovered"]
    out["status"] = np.where(out["recovered"] >= out["reminded"], "full", np.where(out["recovered"] > 0, "partly", "not"))
    out["days_to_first_payment"] = (first.reindex(out["reminder"]).to_numpy() - out["as_of"]).dt.days.astype("Int64")
    out["days_to_full"] = (full_at.reindex(out["reminder"]).to_numpy() - out["as_of"]).dt.days.astype("Int64")
    days_after = (matched["paid_at"] - matched["as_of"]).dt.days
    for d in COHORT_DAYS:
        early = matched[days_after <= d].groupby("reminder")["amount"].sum()
        out[f"recovered_{d}d"] = np.minimum(out["reminder"].map(early).fillna(0).astype("int64"), out["reminded"].astype("int64"))
    out["days_overdue_now"] = out["days_overdue"] + (pd.Timestamp(as_of) - out["as_of"]).dt.days
    left_after = left.merge(base[["order_id", "as_of"]], on="order_id")
    left_orders = set(left_after.loc[left_after["paid_at"] >= left_after["as_of"], "order_id"])
    out["left_list"] = out["order_id"].isin(left_orders) & (out["status"] != "full")
    seen = store.visits_frame()
    seen = seen[seen["visited_at"] <= pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)]
    last_visit = seen.groupby("order_id")["visited_at"].max().dt.tz_localize(None).dt.normalize()
    out["opened"] = last_visit.reindex(out["order_id"]).to_numpy() >= out["as_of"].to_numpy()
    return out.drop(columns=["reminder", "kind"])


def figures(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Recovery per group and currency (never summed across currencies)."""
    keys = [*by, "currency"]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "orders_reminded", "amount_reminded", "amount_recovered", "still_open",
                                     "rate_by_count", "rate_by_amount", "fully_paid", "partly_paid", "not_paid",
                                     "left_list", "opened", "opened_not_paid", "never_opened", "median_days_to_payment"])
    flagged = rows.assign(
        fully=rows["status"] == "full", partly=rows["status"] == "partly", none=rows["status"] == "not",
        opened_unpaid=rows["opened"] & (rows["status"] != "full"), unopened=~rows["opened"],
        days=rows["days_to_first_payment"].astype("float64"),  # money-safe: days, for the median
    )
    table = flagged.groupby(keys, sort=True).agg(
        orders_reminded=("order_id", "size"), amount_reminded=("reminded", "sum"), amount_recovered=("recovered", "sum"),
        still_open=("still_open", "sum"), fully_paid=("fully", "sum"), partly_paid=("partly", "sum"), not_paid=("none", "sum"),
        left_list=("left_list", "sum"), opened=("opened", "sum"), opened_not_paid=("opened_unpaid", "sum"),
        never_opened=("unopened", "sum"), median_days_to_payment=("days", "median"),
    ).reset_index()
    table["rate_by_count"] = (table["fully_paid"] + table["partly_paid"]) / table["orders_reminded"]  # money-safe: a ratio
    table["rate_by_amount"] = table["amount_recovered"] / table["amount_reminded"].where(table["amount_reminded"] > 0)  # money-safe: a ratio
    return table


def days_distribution(rows: pd.DataFrame) -> pd.DataFrame:
    """How many reminders were first paid within each span of days."""
    days = rows["days_to_first_payment"].dropna()
    return pd.DataFrame([{"days": label, "payments": int(((days >= lo) & (days <= hi)).sum())} for lo, hi, label in DAY_BUCKETS])


def cohorts(rows: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per reminder week and currency: the share of the reminded amount recovered within 3, 7, 14 and 30 days
    (empty where that many days have not yet passed for the whole week)."""
    if rows.empty:
        return pd.DataFrame(columns=["week", "currency", "amount_reminded", *(f"after_{d}_days" for d in COHORT_DAYS)])
    frame = rows.copy()
    frame["week"] = frame["as_of"].dt.to_period("W-SUN").dt.start_time.dt.date
    out = []
    for (week, currency), group in frame.groupby(["week", "currency"], sort=True):
        reminded = int(group["reminded"].sum())
        entry = {"week": week, "currency": currency, "amount_reminded": reminded}
        for d in COHORT_DAYS:
            matured = (pd.Timestamp(as_of) - group["as_of"].max()).days >= d
            entry[f"after_{d}_days"] = float(group[f"recovered_{d}d"].sum() / reminded) if matured and reminded else None  # money-safe: a ratio
        out.append(entry)
    return pd.DataFrame(out)


def ageing(rows: pd.DataFrame) -> pd.DataFrame:
    """What is still open per currency, by days overdue now (1-30, 31-60, 61-90, 90+)."""
    still = rows[rows["still_open"] > 0].drop_duplicates("order_id", keep="last")
    out = []
    for currency, group in still.groupby("currency", sort=True):
        for lo, hi, label in AGEING:
            part = group[(group["days_overdue_now"] >= lo) & (group["days_overdue_now"] <= hi)]
            out.append({"currency": currency, "days_overdue": label, "orders": len(part), "still_open": int(part["still_open"].sum())})
    return pd.DataFrame(out, columns=["currency", "days_overdue", "orders", "still_open"])


def still_open(rows: pd.DataFrame) -> pd.DataFrame:
    """Orders reminded and still open, newest reminder per order: ready for the next stage's campaign."""
    latest = rows.sort_values("as_of", kind="stable").drop_duplicates("order_id", keep="last")
    return latest[latest["still_open"] > 0].sort_values(["days_overdue_now", "order_id"], ascending=[False, True]).reset_index(drop=True)
