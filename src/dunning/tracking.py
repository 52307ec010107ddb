"""What was paid after the reminders: payments into the journal, and the recovery figures.

The base of every figure is a reminder that was sent or handed over (any channel), with what it
asked for. Money comes in as movements of the journal, each counted once however many sources saw it
(a later export's drop, a payments file, the manage page's webhook, a bank statement); money going back
(a chargeback, a refund, a return) is a movement with a minus sign. A movement is credited to every
reminder of its order that asked for it (the journal learnt of it after the reminder was prepared), up
to what it asked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

import sqlalchemy as sa

from dunning.journal import balance, decisions, matcher, recording, rules
from dunning.journal.sql import fetch, read_frame
from dunning.journal.store import Store
from dunning.journal.tables import SENT, campaigns, movements, observations, orders, reminders
from dunning.pipeline import arrival_of
from dunning.statements import booking
from dunning.sources.loader import OrderExport, PaymentExport
from dunning.sources.rejects import REJECT_COLUMNS

COHORT_DAYS = (3, 7, 14, 30)
AGEING = ((1, 30, "1-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, 10**9, "90+"))
DAY_BUCKETS = ((0, 3, "0-3"), (4, 7, "4-7"), (8, 14, "8-14"), (15, 30, "15-30"), (31, 10**9, "31+"))
REMINDER_COLUMNS = ["order_id", "stage", "about", "reason", "payment_method", "currency", "open_amount", "days_overdue",
                    "reminded_on"]


@dataclass
class Imported:
    """What an import added (new observations of a payments file; drops an export showed) and what it reported."""

    payments: int
    left_list: list[str] = field(default_factory=list)
    review: int = 0
    unrelated: list[str] = field(default_factory=list)
    overpaid: list[str] = field(default_factory=list)
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))


def sent_reminders(store: Store) -> pd.DataFrame:
    """Every message sent or handed over, with its campaign's name as `source` and its date as `as_of`; `about` tells a
    dunning reminder ("") from a notice before a due date (due:<date>) and a payment confirmation (payment:<id>)."""
    sent = store.frame(reminders, [*REMINDER_COLUMNS, "prepared_at", "campaign_id"], reminders.c.status == SENT)
    names = store.frame(campaigns, ["id", "name"]).set_index("id")["name"]
    sent = sent.dropna(subset=["reminded_on"])
    return sent.assign(source=sent["campaign_id"].map(names).astype(object)).rename(columns={"reminded_on": "as_of"}).drop(columns="campaign_id")


def import_export(store: Store, export: OrderExport, as_of: date, sources: list[str] | None = None,
                  window: int = matcher.WINDOW_DAYS) -> Imported:
    """A later export of the same shop: the journal reads its view of every order (a drop in what it says is open is
    a payment the shop received, counted once with what the journal knows). A reminded order still open that the
    export no longer shows has 'left the list' (paid or cancelled: the export cannot tell), noted apart.

    The export speaks for the reminders of the campaigns named in `sources`; by default, of the
    campaigns that reminded the orders it contains (so another shop's orders are left alone).
    """
    sent = sent_reminders(store)
    sent = sent[sent["about"] == ""]
    if sources is None:
        sources = sorted(set(sent.loc[sent["order_id"].isin(export.orders["order_id"]), "source"]))
    missing = sorted(set(sent.loc[sent["source"].isin(sources), "order_id"]) - set(export.orders["order_id"]))
    with store.writing() as db:
        arrival = arrival_of(db, export, as_of, as_of, window)
        owed = balance.of_orders(db, as_of, missing)
        still = owed[owed["owed_now"] > 0]
        arrival.observations = pd.DataFrame({
            "source": matcher.EXPORT, "source_key": "left:" + still["order_id"].astype(str), "origin": arrival.origin,
            "order_id": still["order_id"].astype(str), "kind": matcher.LEFT_LIST, "amount": still["owed_now"].astype("int64"),
            "currency": still["currency"], "occurred_on": pd.Timestamp(as_of), "reference": "", "note": "left the list",
        }, columns=recording.OBSERVED_COLUMNS)
        written = recording.write(store, arrival, db=db)
        booking.rematch(store, db, as_of, window)
    return Imported(written.counts["drops"], left_list=list(still["order_id"]), review=written.counts["review"])


def import_payments(store: Store, paid: PaymentExport, today: date, source: str | None = None,
                    window: int = matcher.WINDOW_DAYS) -> Imported:
    """A payments file into the journal, through the payment rules (`journal.rules`) and the matcher."""
    origin = source or f"file:{paid.path.name}"
    with store.writing() as db:
        known = dict(fetch(db, sa.select(orders.c.order_id, orders.c.currency)))
        observed, rejected = rules.observed(paid.payments, pd.Series(known, dtype=object), today, source="file",
                                            origin=origin, file=str(paid.path))
        written = recording.write(store, recording.Arrival(as_of=today, origin=origin, observations=observed, window=window), db=db)
    judged = written.incoming.assign(status=written.matched.status, note=written.matched.note)
    mine = judged[(judged["origin"] == origin) & (judged["id"] < 0)]
    return Imported(len(mine), unrelated=sorted(set(mine.loc[mine["status"] == matcher.UNMATCHED, "order_id"])),
                    overpaid=sorted(set(mine.loc[mine["note"].str.startswith("overpayment"), "order_id"])), rejected=rejected,
                    review=written.counts["review"])


def recovery(store: Store, as_of: date, campaign: str | None = None, *, sent: pd.DataFrame | None = None,
             paid: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per reminder sent or handed over: what it asked for, what came in since, and how fast.

    Columns: source, as_of, order_id, stage, reason, payment_method, currency, reminded, recovered,
    still_open, status (full/partly/not), days_to_first_payment, days_to_full, days_overdue_now, left_list,
    opened (the manage link was visited on or after the reminder), closed_as (the merchant's decision) and
    closed (what was open when the order was cancelled, written off or handed to collection: not still open).
    """
    base = _reminded(sent_reminders(store) if sent is None else sent, as_of, campaign)
    paid = payments_known(store) if paid is None else paid
    left = left_the_list(store)
    matched = _credits(base, paid, as_of)
    matched["cumulative"] = matched.groupby("reminder")["amount"].cumsum()
    first = matched.groupby("reminder")["paid_at"].min()
    total = matched.groupby("reminder")["amount"].sum()
    full_at = matched[matched["cumulative"] >= matched["reminded"]].groupby("reminder")["paid_at"].min()
    out = base.copy()
    # money that goes back after a reminder (a chargeback, a return) counts against what it recovered
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
    made = decisions.decided(store)
    made = made[made["decided_on"] <= pd.Timestamp(as_of)].set_index("order_id")["decision"]
    out["closed_as"] = out["order_id"].map(made).astype(object).where(lambda v: v.notna(), "")
    closed = (out["closed_as"] != "").to_numpy()
    out["closed"] = np.where(closed, out["still_open"], 0)  # cancelled, written off or with collection: counted apart
    out["still_open"] = np.where(closed, 0, out["still_open"])
    return out.drop(columns=["reminder", "prepared_at"])


def charges_asked(store: Store, as_of: date) -> pd.DataFrame:
    """Per currency and kind (fee, interest, costs): what reminders that were sent charged by `as_of`, how much of it
    was paid and what is still open, as the one balance settles it."""
    with store.engine.connect() as db:
        held = balance.book(db)
    settled = held.settle(as_of)
    table = settled.charges
    table = table[(table["kind"] != balance.INSTALLMENT) & (table["due_date"] <= np.datetime64(as_of, "D"))]
    currency = held.orders["currency"].to_numpy()[table["code"].to_numpy(dtype="int64")] if len(table) else []
    grouped = table.assign(currency=currency).groupby(["currency", "kind"], sort=True).agg(
        amount_charged=("amount_due", "sum"), amount_settled=("amount_paid", "sum"), amount_open=("amount_open", "sum"))
    return grouped.reset_index().astype({"amount_charged": "int64", "amount_settled": "int64", "amount_open": "int64"})


def credited(store: Store, as_of: date, campaign: str | None = None) -> pd.DataFrame:
    """Every recovered amount traced to its payment: one row per reminder and payment credited to it, with the
    reminder's campaign (`source`), stage, order and date, and the payment's id, source, date and counted amount."""
    base = _reminded(sent_reminders(store), as_of, campaign)
    matched = _credits(base, payments_known(store), as_of)
    out = matched.merge(base[["reminder", "source", "stage"]], on="reminder")
    return out[["source", "stage", "order_id", "as_of", "payment_id", "payment_source", "paid_at", "amount"]]


def payments_known(store: Store) -> pd.DataFrame:
    """Every movement of money the journal holds (signed), as the payments the report credits: order_id, paid_at,
    amount, currency, payment_id (the source and key of the first observation of it), source (its origin), kind,
    recorded_at (when the journal learnt of it)."""
    query = (sa.select(orders.c.order_id, sa.cast(movements.c.occurred_on, sa.String), movements.c.amount, movements.c.currency,
                       movements.c.id, movements.c.origin, movements.c.kind, movements.c.recorded_at, movements.c.made_by)
             .join(orders, orders.c.order_key == movements.c.order_key))
    first = (sa.select(observations.c.movement_id, observations.c.source, observations.c.source_key)
             .where(observations.c.id.in_(sa.select(sa.func.min(observations.c.id)).where(observations.c.movement_id.is_not(None))
                                          .group_by(observations.c.movement_id))))
    makers = (sa.select(observations.c.id, observations.c.source, observations.c.source_key)
              .where(observations.c.id.in_(sa.select(movements.c.made_by).where(movements.c.made_by.is_not(None)))))
    with store.engine.connect() as db:
        rows, named, made = fetch(db, query), fetch(db, first), fetch(db, makers)
    frame = pd.DataFrame.from_records(rows, columns=["order_id", "paid_at", "amount", "currency", "id", "source", "kind", "recorded_at",
                                                     "made_by"])
    frame["paid_at"] = pd.to_datetime(frame["paid_at"], format="%Y-%m-%d")
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True, format="ISO8601")
    frame["amount"] = frame["amount"].astype("int64")
    names = {movement: f"{source}:{key}" for movement, source, key in named}
    by_maker = {observation: f"{source}:{key}" for observation, source, key in made}
    frame["payment_id"] = [names.get(m) or by_maker.get(b) or f"movement:{m}" for m, b in zip(frame["id"], frame["made_by"])]
    return frame.drop(columns=["id", "made_by"])


def left_the_list(store: Store) -> pd.DataFrame:
    """The reminded orders a later export no longer showed while still open: order_id, paid_at (the export's date)."""
    with store.engine.connect() as db:
        frame = read_frame(db, observations, ["order_id", "occurred_on"], observations.c.kind == matcher.LEFT_LIST)
    return frame.rename(columns={"occurred_on": "paid_at"})


def _reminded(base: pd.DataFrame, as_of: date, campaign: str | None, notices: bool = False) -> pd.DataFrame:
    """Of the messages sent (`sent_reminders`), the dunning reminders sent up to `as_of` (or, with `notices`, the
    notices before a due date), numbered."""
    kind = base["about"].str.startswith("due:") if notices else base["about"] == ""
    base = base[kind & (base["as_of"] <= pd.Timestamp(as_of))]
    if campaign:
        base = base[base["source"] == campaign]
    base = base.reset_index(drop=True).rename(columns={"open_amount": "reminded"})
    base["reminder"] = np.arange(len(base))
    return base


def _credits(reminded: pd.DataFrame, paid: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Which counted payment (its id and source) is credited to which reminder, and how much.

    A reminder is credited with the payments of its order that the ledger learnt of after the
    reminder was prepared: what it asked for did not yet reflect them. One made before the
    reminder's date (known only later) counts as paid on the reminder's day.
    """
    counted = paid[paid["paid_at"] <= pd.Timestamp(as_of)].rename(columns={"source": "payment_source"})
    matched = reminded[["reminder", "order_id", "as_of", "currency", "reminded", "prepared_at"]].merge(
        counted[["order_id", "paid_at", "amount", "currency", "payment_id", "payment_source", "recorded_at"]],
        on=["order_id", "currency"], how="inner")
    matched = matched[matched["recorded_at"] > matched["prepared_at"]].copy()
    matched["paid_at"] = matched[["paid_at", "as_of"]].max(axis=1)
    return matched.sort_values(["reminder", "paid_at"], kind="stable").reset_index(drop=True)


def decided_amounts(store: Store, as_of: date) -> pd.DataFrame:
    """Per decision and currency: the orders the merchant cancelled, wrote off or handed to collection by `as_of`, and
    what was open when they decided."""
    made = decisions.decided(store)
    made = made[made["decided_on"] <= pd.Timestamp(as_of)]
    table = made.groupby(["decision", "currency"], sort=True).agg(orders=("order_id", "size"), amount=("amount_open", "sum"))
    return table.reset_index().reindex(columns=["decision", "currency", "orders", "amount"])


def notice_outcomes(store: Store, as_of: date, *, sent: pd.DataFrame | None = None,
                    paid: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per notice stage and currency: the notices sent before a due date, and whether the amount they announced was
    paid by the due date (on time), after it (late), or is still open."""
    base = _reminded(sent_reminders(store) if sent is None else sent, as_of, None, notices=True)
    columns = ["stage", "currency", "notices", "amount_announced", "paid_on_time", "paid_late", "not_paid",
               "amount_paid_on_time", "rate_on_time"]
    if base.empty:
        return pd.DataFrame(columns=columns)
    base["due"] = pd.to_datetime(base["about"].str.removeprefix("due:"))
    matched = _credits(base, payments_known(store) if paid is None else paid, as_of)
    on_time = matched[matched["paid_at"] <= matched["reminder"].map(base.set_index("reminder")["due"])]
    by_due = np.minimum(base["reminder"].map(on_time.groupby("reminder")["amount"].sum()).fillna(0).astype("int64"), base["reminded"])
    total = np.minimum(base["reminder"].map(matched.groupby("reminder")["amount"].sum()).fillna(0).astype("int64"), base["reminded"])
    flagged = base.assign(on_time=by_due >= base["reminded"], late=(by_due < base["reminded"]) & (total >= base["reminded"]),
                          open=total < base["reminded"], paid_by_due=by_due)
    table = flagged.groupby(["stage", "currency"], sort=True).agg(
        notices=("order_id", "size"), amount_announced=("reminded", "sum"), paid_on_time=("on_time", "sum"),
        paid_late=("late", "sum"), not_paid=("open", "sum"), amount_paid_on_time=("paid_by_due", "sum")).reset_index()
    table["rate_on_time"] = table["paid_on_time"] / table["notices"]  # money-safe: a ratio
    return table[columns]


def figures(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Recovery per group and currency (never summed across currencies)."""
    keys = [*by, "currency"]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "orders_reminded", "amount_reminded", "amount_recovered", "still_open", "amount_closed",
                                     "rate_by_count", "rate_by_amount", "fully_paid", "partly_paid", "not_paid",
                                     "left_list", "opened", "opened_not_paid", "never_opened", "median_days_to_payment"])
    flagged = rows.assign(
        fully=rows["status"] == "full", partly=rows["status"] == "partly", none=rows["status"] == "not",
        opened_unpaid=rows["opened"] & (rows["status"] != "full"), unopened=~rows["opened"],
        days=rows["days_to_first_payment"].astype("float64"),  # money-safe: days, for the median
    )
    table = flagged.groupby(keys, sort=True).agg(
        orders_reminded=("order_id", "size"), amount_reminded=("reminded", "sum"), amount_recovered=("recovered", "sum"),
        still_open=("still_open", "sum"), amount_closed=("closed", "sum"), fully_paid=("fully", "sum"), partly_paid=("partly", "sum"), not_paid=("none", "sum"),
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


def still_open(store: Store, rows: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Orders reminded and still owing by the one balance (installments due and fees), with their newest reminder:
    ready for the next stage's campaign. `still_open` is what the order owes now, not what a reminder asked."""
    latest = rows.sort_values("as_of", kind="stable").drop_duplicates("order_id", keep="last")
    with store.engine.connect() as db:
        owed = balance.of_orders(db, as_of, sorted(latest["order_id"])).set_index("order_id")["owed_now"]
    latest = latest.assign(still_open=latest["order_id"].map(owed).fillna(0).astype("int64"))
    latest = latest[(latest["still_open"] > 0) & (latest["closed_as"] == "")]
    return latest.sort_values(["days_overdue_now", "order_id"], ascending=[False, True]).reset_index(drop=True)
