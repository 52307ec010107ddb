"""Apply a profile to an order export: canonical orders with receivables or plans; every row accounted for.

Payments files are read by `dunning.sources.payments` (`read_payments` is here too, for one import)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from dunning import languages, postal
from dunning.arrowtext import arrow_strings
from dunning.schedule import expand, last_due
from dunning.sources import parsing
from dunning.sources.mapped import Counted, Mapped, bounded, kept, normalise_words, raw_table
from dunning.sources.payments import PaymentExport, read_payments
from dunning.sources.profiles import STATUSES, Profile

__all__ = ["CLOSED_STATUSES", "KINDS", "OrderExport", "PaymentExport", "read_orders", "read_payments"]

KINDS = ("one_time", "installment", "subscription")
# The longest text each field may hold, the same on every store (an e-mail address: RFC 5321's 254).
TEXT_LIMITS = {"order_id": 200, "email": 254, "first_name": 200, "last_name": 200, "product_name": 500,
               "payment_method": 100, "customer_id": 200, "failure": 100}
CLOSED_STATUSES = frozenset({"cancelled", "refunded", "draft"})
ORDER_FIELDS = [
    "order_id", "email", "first_name", "last_name", "language", "product_name", "kind",
    "payment_method", "currency", "status", "created_at", "customer_id", "failure", *postal.ADDRESS_COLUMNS,
]


@dataclass
class OrderExport(Counted):
    """Canonical orders of one export, with one receivable per order or the plans to expand."""

    path: Path
    profile: Profile
    orders: pd.DataFrame
    receivables: pd.DataFrame | None
    plans: pd.DataFrame | None
    rejects: pd.DataFrame
    rows_in: int
    notes: list[str] = field(default_factory=list)
    open_only: bool = False  # the export states what is open and not what was paid: a fall in it is a payment

    def receivables_until(self, until: date, of: pd.Series | None = None) -> pd.DataFrame:
        """Receivables: as exported, or the plans expanded up to `until` (open-ended plans stop there); only those
        of the orders `of` names, when given."""
        frame = self.receivables if self.receivables is not None else self.plans
        if of is not None:
            frame = frame[pc.is_in(arrow_strings(frame["order_id"]), value_set=arrow_strings(of)).to_numpy(zero_copy_only=False)]
        return frame if self.receivables is not None else expand(frame, until)


def read_orders(source: str | Path | pd.DataFrame, profile: Profile, name: str = "orders") -> OrderExport:
    """Read an order export, or a DataFrame already in memory (`name` stands for it in messages), through a
    profile; rows that cannot be used are rejected with reasons."""
    raw, path = raw_table(source, profile, name)
    m = Mapped(raw, profile, path)
    rows_in = m.rows_in
    template = str(profile.fmt("order_id_template"))
    if template and "order_id" not in m.present:
        m.data["order_id"] = m.rows.map(lambda r: template.format(row=r)).astype("string")
        m.present.add("order_id")
    is_plan = "start_date" in m.present
    m.require(["order_id"], "orders")
    if is_plan:
        m.require(["installment_amount"], "plans")
        if "interval" not in m.present and not {"interval_count", "interval_unit"} <= m.present:
            m.require(["interval"], "plans")
    else:
        if "due_date" not in m.present and not profile.fmt("due_date_default"):
            m.require(["due_date"], "orders with open amounts")
        if "open_amount" not in m.present and not {"total_amount", "paid_amount"} <= m.present:
            m.require(["open_amount"], "orders with open amounts")
    m.apply_rules()
    if not is_plan and profile.fmt("line_items"):
        m = _merge_line_items(m)

    data = m.data
    order_id = m.text("order_id")
    m.missing(order_id, "order_id", "missing order id")
    currency = m.currency()
    status = _status(m)
    frame = pd.DataFrame(index=data.index)
    frame["order_id"] = order_id
    frame["currency"] = currency
    frame["status"] = status
    _names(m, frame)
    frame["email"] = m.text("email")
    m.log.add(parsing.email_problems(frame["email"]), "email", "malformed e-mail address", frame["email"])
    frame["language"], foreign = languages.resolve(m.mapped_values("language"))
    frame["product_name"] = m.text("product_name")
    frame["payment_method"] = normalise_words(m.mapped_values("payment_method"))
    frame["failure"] = normalise_words(m.mapped_values("failure"))
    frame["customer_id"] = m.text("customer_id")
    frame["created_at"] = m.dates("created_at")
    _address(m, frame)
    bounded(m, frame, TEXT_LIMITS | postal.LIMITS)
    notes = _language_notes(m, foreign) + m.notes()

    if is_plan:
        plans = _plans(m, frame, currency)
        frame["created_at"] = frame["created_at"].fillna(plans["start_date"])  # a plan was ordered when it started
        frame["kind"] = _kind(m, default=plans["installments"].notna().map({True: "installment", False: "subscription"}))
    else:
        receivables = _receivables(m, frame, currency)
        frame["kind"] = _kind(m, default=pd.Series("one_time", index=data.index))

    keep = pd.Series(~frame.index.isin(m.log.rejected_index()), index=frame.index)
    repeated = frame.loc[keep, "order_id"].duplicated(keep=False)
    if repeated.any():
        dup_reject = _conflicting_duplicates(frame[keep], (plans if is_plan else receivables)[keep], m)
        keep &= ~frame.index.isin(dup_reject)
        kept_ids = frame.loc[keep, "order_id"]
        keep &= ~frame.index.isin(kept_ids[kept_ids.duplicated()].index)
    _reject_line_items_of_rejected(m, keep)
    orders = kept(frame[ORDER_FIELDS], keep)
    if is_plan:
        return OrderExport(path, profile, orders, None, kept(plans, keep), m.log.frame(), rows_in, notes)
    rec = kept(receivables, keep)
    open_only = "paid_amount" not in m.present and "total_amount" not in m.present
    return OrderExport(path, profile, orders, rec, None, m.log.frame(), rows_in, notes, open_only)


def _status(m: Mapped) -> pd.Series:
    status = m.mapped_values("status").str.lower().str.replace(" ", "_")
    unknown = (status != "") & ~status.isin(STATUSES)
    m.log.add(unknown, "status", "unknown status (map it in the profile's [values.status])", m.text("status"))
    return status


def _address(m: Mapped, frame: pd.DataFrame) -> None:
    """The postal address columns (empty where the export has none); a country that is no country is rejected."""
    for column in postal.ADDRESS_COLUMNS[:-1]:
        frame[column] = m.text(column)
    frame["country"], unknown = postal.country_codes(m.text("country"))
    m.log.add(unknown, "country", "not a country (an ISO 3166 code such as DE, or its name)", m.text("country"))


def _names(m: Mapped, frame: pd.DataFrame) -> None:
    """first_name/last_name, split from full_name where only that is given."""
    first, last = m.text("first_name"), m.text("last_name")
    full = m.text("full_name")
    only_full = (first == "") & (last == "") & (full != "")
    if only_full.any():
        split = full[only_full].str.split(" ", n=1, expand=True).reindex(columns=[0, 1]).astype("string").fillna("")
        first = first.mask(only_full, split[0])
        last = last.mask(only_full, split[1])
    frame["first_name"], frame["last_name"] = first, last
    for name in ("first_name", "last_name"):
        frame[name] = frame[name].str.replace(r"[\r\n\t]+", " ", regex=True).str.strip()


def _kind(m: Mapped, default: pd.Series) -> pd.Series:
    kind = normalise_words(m.mapped_values("kind"))
    m.log.add((kind != "") & ~kind.isin(KINDS), "kind", f"unknown kind (one of {', '.join(KINDS)})", kind)
    return kind.where(kind != "", default.astype("string"))


def _language_notes(m: Mapped, foreign: pd.Series) -> list[str]:
    """Rows whose language cell is not a language keep their row and get the fallback language; say which."""
    if not foreign.any():
        return []
    cells = m.mapped_values("language")[foreign]
    rows = ", ".join(str(r) for r in m.rows[foreign].head(5))
    return [f"{int(foreign.sum())} rows have a language that is not one ({', '.join(sorted(set(cells))[:5])}; rows {rows}"
            f"{' ...' if foreign.sum() > 5 else ''}): they get the shop's fallback language"]


def _receivables(m: Mapped, frame: pd.DataFrame, currency: pd.Series) -> pd.DataFrame:
    """One receivable per order: due date and what is due and paid (open = due - paid)."""
    due_date = m.dates("due_date")
    fallback = str(m.profile.fmt("due_date_default"))
    if fallback:
        due_date = due_date.fillna(frame[fallback])
    open_amount = m.amounts("open_amount", currency) if "open_amount" in m.present else None
    paid = m.amounts("paid_amount", currency) if "paid_amount" in m.present else None
    total = m.amounts("total_amount", currency) if "total_amount" in m.present else None
    if open_amount is None:
        open_amount = (total - paid).clip(lower=0)
    elif total is not None and paid is not None:
        open_amount = open_amount.fillna((total - paid).clip(lower=0))
    if paid is None:
        paid = (total - open_amount).clip(lower=0) if total is not None else pd.Series(0, index=frame.index, dtype="Int64")
    paid = paid.fillna(0)
    m.missing(open_amount, "open_amount", "missing open amount")
    has_open = open_amount.fillna(0) > 0
    m.missing(due_date, "due_date", "missing due date (the order has something open)", where=has_open)
    return pd.DataFrame({
        "order_id": frame["order_id"], "seq": 1, "due_date": due_date,
        "amount_due": (open_amount + paid).astype("Int64"), "amount_paid": paid.astype("Int64"),
    })


def _plans(m: Mapped, frame: pd.DataFrame, currency: pd.Series) -> pd.DataFrame:
    """Plan rows: start, interval (months, days), installments, amounts, stop and settled dates."""
    start = m.dates("start_date")
    m.missing(start, "start_date", "missing start date")
    if "interval" in m.present:
        interval_text = m.text("interval")
    else:
        interval_text = (m.text("interval_count") + " " + m.mapped_values("interval_unit")).str.strip()
    months, days, reason = parsing.parse_intervals(interval_text)
    m.log.add(reason != "", "interval", reason, interval_text)
    m.missing(interval_text, "interval", "missing interval")
    installments, count_reason = parsing.parse_counts(m.text("installments"))
    m.log.add(count_reason != "", "installments", count_reason, m.text("installments"))
    m.log.add(installments == 0, "installments", "a plan needs at least one installment", m.text("installments"))
    m.log.add((installments > parsing.MAX_INSTALLMENTS).fillna(False), "installments",
              f"more than {parsing.MAX_INSTALLMENTS} installments (fifty years of months): not a plan", m.text("installments"))
    amount = m.amounts("installment_amount", currency)
    m.missing(amount, "installment_amount", "missing installment amount")
    discount = m.amounts("first_payment_discount", currency).fillna(0)
    last = last_due(start, months, days, installments.where(installments <= parsing.MAX_INSTALLMENTS))
    m.log.add((last > parsing.LATEST).fillna(False), "installments", f"its last installment falls after {parsing.LATEST.year}",
              m.text("installments"))
    return pd.DataFrame({
        "order_id": frame["order_id"], "currency": currency, "start_date": start,
        "months": months, "days": days, "installments": installments,
        "installment_amount": amount, "first_payment_discount": discount,
        "end_date": m.dates("end_date"), "next_payment_date": m.dates("next_payment_date"),
    })


def _merge_line_items(m: Mapped) -> Mapped:
    """One row per order: the first row's values, later rows filling gaps; products joined."""
    data = m.data.copy()
    data["_row"] = m.rows
    order_id = data["order_id"]
    products = None
    if "product_name" in data:
        products = data[data["product_name"] != ""].groupby("order_id", sort=False)["product_name"].agg(
            lambda names: ", ".join(dict.fromkeys(names))
        )
    merged = data.replace("", pd.NA).groupby(order_id, sort=False, dropna=False).first()
    merged = merged.drop(columns="order_id", errors="ignore").reset_index().rename(columns={"index": "order_id"})
    merged["order_id"] = merged["order_id"].fillna("")
    if products is not None:
        merged["product_name"] = merged["order_id"].map(products)
    merged["_row"] = data.groupby(order_id, sort=False, dropna=False)["_row"].first().to_numpy()
    for column in merged.columns:
        if column != "_row":
            merged[column] = merged[column].astype("string").fillna("")
    merged.index = data.groupby(order_id, sort=False, dropna=False)["_row"].idxmin().to_numpy()
    m.data = merged.drop(columns="_row")
    m.rows = merged["_row"]
    first_index = data.index.to_series().groupby(order_id, sort=False, dropna=False).transform("min")
    m.line_item_of = first_index[first_index != first_index.index]
    return m


def _reject_line_items_of_rejected(m: Mapped, keep: pd.Series) -> None:
    """Further rows of an order that was rejected are rejected with it."""
    if m.line_item_of.empty:
        return
    rejected_first = set(keep.index[~keep.to_numpy()])
    first = m.line_item_of
    mask = pd.Series(first.isin(rejected_first).to_numpy(), index=first.index).reindex(m.log.rows.index, fill_value=False)
    reason = "line item of an order rejected at row " + m.log.rows.reindex(first.to_numpy()).astype("string").to_numpy()
    m.log.add(mask, "order_id", pd.Series(reason, index=first.index).reindex(m.log.rows.index).fillna(""))


def _conflicting_duplicates(frame: pd.DataFrame, amounts: pd.DataFrame, m: Mapped) -> pd.Index:
    """Rows whose order id repeats with different data; all of them are rejected."""
    dup = frame["order_id"].duplicated(keep=False)
    if not dup.any():
        return pd.Index([])
    both = pd.concat([frame[dup], amounts[dup].drop(columns="order_id")], axis=1)
    variants = both.drop_duplicates()
    conflicting_ids = variants.loc[variants["order_id"].duplicated(), "order_id"]
    conflicting = both["order_id"].isin(conflicting_ids)
    first_row = m.rows[both.index].groupby(both["order_id"]).transform("min")
    reason = "duplicate order id with different data (first at row " + first_row.astype("string") + ")"
    mask = pd.Series(False, index=frame.index)
    mask[both.index[conflicting.to_numpy()]] = True
    m.log.add(mask, "order_id", reason.reindex(frame.index).fillna(""), frame["order_id"])
    return both.index[conflicting.to_numpy()]
