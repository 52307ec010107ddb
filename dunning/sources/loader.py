"""Apply a profile to an export: canonical orders with receivables or plans, or payments; every row accounted for."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dunning import languages
from dunning.arrowtext import arrow_strings
from dunning.errors import InputError
from dunning.money import MAX_EXPONENT, exponents, known_currencies, parse_amounts
from dunning.schedule import expand
from dunning.sources import parsing
from dunning.sources.profiles import STATUSES, Profile
from dunning.sources.readers import SPREADSHEET_ROW_OFFSET, read_table
from dunning.sources.rejects import RejectLog

KINDS = ("one_time", "installment", "subscription")
CLOSED_STATUSES = frozenset({"cancelled", "refunded", "draft"})
ORDER_FIELDS = [
    "order_id", "email", "first_name", "last_name", "language", "product_name", "kind",
    "payment_method", "currency", "status", "created_at", "customer_id", "failure",
]


@dataclass
class OrderExport:
    """Canonical orders of one export, with one receivable per order or the plans to expand."""

    path: Path
    profile: Profile
    orders: pd.DataFrame
    receivables: pd.DataFrame | None
    plans: pd.DataFrame | None
    rejects: pd.DataFrame
    rows_in: int
    notes: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return int(self.rejects["row"].nunique())

    @property
    def rows_accepted(self) -> int:
        return self.rows_in - self.rows_rejected

    def receivables_until(self, until: date) -> pd.DataFrame:
        """Receivables: as exported, or the plans expanded up to `until` (open-ended plans stop there)."""
        if self.receivables is not None:
            return self.receivables
        return expand(self.plans, until)


@dataclass
class PaymentExport:
    """Canonical payments of one file: order_id, paid_at, amount, currency, payment_id, and the row it came from.

    `amount` is in minor units at `amount_exponent`: the currency's, or, where the file names no
    currency, the finest any currency has (the order's currency decides, in `payment_rules`)."""

    path: Path
    payments: pd.DataFrame
    rejects: pd.DataFrame
    rows_in: int

    @property
    def rows_rejected(self) -> int:
        return int(self.rejects["row"].nunique())

    @property
    def rows_accepted(self) -> int:
        return self.rows_in - self.rows_rejected


class _Mapped:
    """The canonical columns picked from a raw export, with the row numbers and a reject log."""

    def __init__(self, raw: pd.DataFrame, profile: Profile, path: Path):
        self.profile = profile
        self.path = path
        self.rows = pd.Series(raw.index.to_numpy() + SPREADSHEET_ROW_OFFSET, index=raw.index)
        self.log = RejectLog(str(path), self.rows)
        self.log.add_rows(raw.attrs.get("bad_rows", []), "(row)")
        self.rows_in = len(raw) + len(raw.attrs.get("bad_rows", []))
        self.raw = raw
        empties = set(str(v) for v in profile.fmt("empty_values"))
        self.data = pd.DataFrame(index=raw.index)
        self.present: set[str] = set()
        self.line_item_of = pd.Series(dtype="int64")
        for canonical, headers in profile.columns.items():
            found = [h for h in headers if h in raw.columns]
            if not found:
                continue
            self.present.add(canonical)
            column = raw[found[0]].str.strip()
            for header in found[1:]:
                column = column.where(column != "", raw[header].str.strip())
            if empties:
                column = column.where(~column.isin(empties), "")
            self.data[canonical] = column
        for canonical, pattern in profile.extract.items():
            if canonical in self.data:
                extracted = self.data[canonical].str.extract(pattern, expand=False)
                self.data[canonical] = extracted.fillna(self.data[canonical]).str.strip()

    def apply_rules(self) -> None:
        """Reject the rows the profile's [[rules]] leave out."""
        raw = self.raw
        for rule in self.profile.rules:
            if rule.column not in raw.columns:
                raise InputError(f"{self.path}: the profile {self.profile.name} filters on column {rule.column!r}, which the file lacks")
            values = raw[rule.column].str.strip()
            out = pd.Series(False, index=raw.index)
            if rule.keep:
                out |= ~values.isin(rule.keep)
            if rule.drop:
                out |= values.isin(rule.drop)
            self.log.add(out, rule.column, rule.reason, values)

    def require(self, names: list[str], what: str) -> None:
        """Stop with one sentence when required canonical columns are missing."""
        missing = [n for n in names if n not in self.present]
        if missing:
            wanted = "; ".join(
                f"{n} (looked for {' or '.join(repr(h) for h in self.profile.columns.get(n, (n,)))})" for n in missing
            )
            raise InputError(f"{self.path}: missing required column(s) for {what} with profile {self.profile.name}: {wanted}")

    def text(self, name: str) -> pd.Series:
        """A canonical column's text, "" where the file has no such column."""
        if name in self.data:
            return self.data[name].fillna("")
        return pd.Series("", index=self.data.index, dtype="string")

    def mapped_values(self, name: str) -> pd.Series:
        """A column through the profile's value map for it (exact, then case-insensitive)."""
        text = self.text(name)
        table = self.profile.values.get(name, {})
        if not table:
            return text
        folded = {k.casefold(): v for k, v in table.items()}
        return _per_value(text, lambda distinct: distinct.map(lambda v: table.get(v, folded.get(v.casefold(), v))).astype("string"))

    def dates(self, name: str) -> pd.Series:
        parsed, reason = parsing.parse_dates(self.text(name), str(self.profile.fmt("date_format")))
        self.log.add(reason != "", name, reason, self.text(name))
        return parsed

    def amounts(self, name: str, currency: pd.Series, *, allow_negative: bool = False, exps: pd.Series | None = None) -> pd.Series:
        minor, reason = parse_amounts(
            self.text(name), currency, exps=exps,
            decimal=str(self.profile.fmt("decimal")), thousands=str(self.profile.fmt("thousands")),
        )
        self.log.add(reason != "", name, reason, self.text(name))
        if not allow_negative:
            self.log.add(minor < 0, name, "negative amount", self.text(name))
        return minor

    def currency(self) -> pd.Series:
        currency = self.text("currency").str.upper()
        default = str(self.profile.fmt("currency")).upper()
        if default:
            currency = currency.where(currency != "", default)
        self.log.add(currency == "", "currency", "missing currency")
        unknown = (currency != "") & ~currency.isin(known_currencies())
        self.log.add(unknown, "currency", "unknown currency (not an ISO 4217 code)", currency)
        return currency

    def missing(self, series: pd.Series, name: str, reason: str, where: pd.Series | None = None) -> None:
        """Reject rows where a required value is absent (a value that failed to parse is reported already)."""
        empty = series.isna() if series.dtype.kind == "M" or str(series.dtype) == "Int64" else series == ""
        empty &= self.text(name) == ""
        if where is not None:
            empty &= where
        self.log.add(empty, name, reason)


def read_orders(path: str | Path, profile: Profile) -> OrderExport:
    """Read an order export through a profile; rows that cannot be used are rejected with reasons."""
    path = Path(path)
    raw = read_table(path, delimiter=str(profile.fmt("delimiter")), encoding=str(profile.fmt("encoding")))
    m = _Mapped(raw, profile, path)
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
    frame["payment_method"] = _normalise_words(m.mapped_values("payment_method"))
    frame["failure"] = _normalise_words(m.mapped_values("failure"))
    frame["customer_id"] = m.text("customer_id")
    frame["created_at"] = m.dates("created_at")
    closed = status.isin(CLOSED_STATUSES)
    notes = _language_notes(m, foreign)

    if is_plan:
        plans = _plans(m, frame, currency)
        needs_contact = ~closed
        frame["kind"] = _kind(m, default=plans["installments"].notna().map({True: "installment", False: "subscription"}))
    else:
        receivables = _receivables(m, frame, currency)
        needs_contact = ~closed & (status != "paid") & (receivables["amount_due"].fillna(0) > receivables["amount_paid"].fillna(0))
        frame["kind"] = _kind(m, default=pd.Series("one_time", index=data.index))
    m.missing(frame["email"], "email", "missing e-mail address (the order has something open)", where=needs_contact)

    keep = pd.Series(~frame.index.isin(m.log.rejected_index()), index=frame.index)
    repeated = frame.loc[keep, "order_id"].duplicated(keep=False)
    if repeated.any():
        dup_reject = _conflicting_duplicates(frame[keep], (plans if is_plan else receivables)[keep], m)
        keep &= ~frame.index.isin(dup_reject)
        kept_ids = frame.loc[keep, "order_id"]
        keep &= ~frame.index.isin(kept_ids[kept_ids.duplicated()].index)
    _reject_line_items_of_rejected(m, keep)
    orders = frame[keep][ORDER_FIELDS].reset_index(drop=True)
    if is_plan:
        plan_rows = plans[keep].reset_index(drop=True)
        return OrderExport(path, profile, orders, None, plan_rows, m.log.frame(), rows_in, notes)
    rec = receivables[keep].reset_index(drop=True)
    return OrderExport(path, profile, orders, rec, None, m.log.frame(), rows_in, notes)


def read_payments(path: str | Path, profile: Profile) -> PaymentExport:
    """Read a payments file (order_id, paid_at, amount, optional currency and payment_id)."""
    path = Path(path)
    raw = read_table(path, delimiter=str(profile.fmt("delimiter")), encoding=str(profile.fmt("encoding")))
    m = _Mapped(raw, profile, path)
    m.require(["order_id", "paid_at", "amount"], "payments")
    m.apply_rules()
    order_id = m.text("order_id")
    m.missing(order_id, "order_id", "missing order id")
    currency = m.text("currency").str.upper()
    default = str(profile.fmt("currency")).upper()
    if default:
        currency = currency.where(currency != "", default)
    unknown = (currency != "") & ~currency.isin(known_currencies())
    m.log.add(unknown, "currency", "unknown currency (not an ISO 4217 code)", currency)
    paid_at = m.dates("paid_at")
    m.missing(paid_at, "paid_at", "missing payment date")
    # Without a currency the amount is read at the finest exponent; the order's currency decides later.
    amount_exponent = exponents(currency).where(currency != "", MAX_EXPONENT)
    amount = m.amounts("amount", currency, exps=amount_exponent)
    m.missing(amount, "amount", "missing amount")
    payments = pd.DataFrame({
        "order_id": order_id, "paid_at": paid_at, "amount": amount, "amount_exponent": amount_exponent,
        "currency": currency, "payment_id": m.text("payment_id"), "row": m.rows,
    })
    keep = pd.Series(~payments.index.isin(m.log.rejected_index()), index=payments.index)
    has_id = keep & (payments["payment_id"] != "")
    ids = arrow_strings(payments.loc[has_id, "payment_id"])
    if pc.count_distinct(ids).as_py() < len(ids):
        repeated = has_id & payments["payment_id"].where(has_id).duplicated(keep=False)
        same_id = payments[repeated]
        variants = same_id.drop_duplicates(subset=["payment_id", "order_id", "paid_at", "amount", "currency"])
        conflicting = repeated & payments["payment_id"].isin(variants.loc[variants["payment_id"].duplicated(), "payment_id"])
        m.log.add(conflicting, "payment_id", "payment id appears with different data", payments["payment_id"])
        keep &= ~conflicting
        keep &= ~(repeated & ~conflicting & payments["payment_id"].where(repeated & ~conflicting).duplicated())
    result = payments[keep].reset_index(drop=True)
    return PaymentExport(path, result, m.log.frame(), m.rows_in)


def _status(m: _Mapped) -> pd.Series:
    status = m.mapped_values("status").str.lower().str.replace(" ", "_")
    unknown = (status != "") & ~status.isin(STATUSES)
    m.log.add(unknown, "status", "unknown status (map it in the profile's [values.status])", m.text("status"))
    return status


def _names(m: _Mapped, frame: pd.DataFrame) -> None:
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


def _kind(m: _Mapped, default: pd.Series) -> pd.Series:
    kind = _normalise_words(m.mapped_values("kind"))
    m.log.add((kind != "") & ~kind.isin(KINDS), "kind", f"unknown kind (one of {', '.join(KINDS)})", kind)
    return kind.where(kind != "", default.astype("string"))


def _language_notes(m: _Mapped, foreign: pd.Series) -> list[str]:
    """Rows whose language cell is not a language keep their row and get the fallback language; say which."""
    if not foreign.any():
        return []
    cells = m.mapped_values("language")[foreign]
    rows = ", ".join(str(r) for r in m.rows[foreign].head(5))
    return [f"{int(foreign.sum())} rows have a language that is not one ({', '.join(sorted(set(cells))[:5])}; rows {rows}"
            f"{' ...' if foreign.sum() > 5 else ''}): they get the shop's fallback language"]


def _normalise_words(values: pd.Series) -> pd.Series:
    """'Bank Transfer' -> 'bank_transfer'."""
    return _per_value(values, lambda v: v.str.strip().str.lower().str.replace(r"[\s-]+", "_", regex=True))


def _per_value(values: pd.Series, transform) -> pd.Series:
    """Apply a text transform once per distinct value (methods, kinds, languages have few) and map back."""
    encoded = arrow_strings(values).dictionary_encode()
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype="string")
    changed = pa.array(transform(distinct).fillna(""), type=pa.large_string())
    return pd.Series(pd.arrays.ArrowExtensionArray(changed.take(encoded.indices)), index=values.index, dtype="string")


def _receivables(m: _Mapped, frame: pd.DataFrame, currency: pd.Series) -> pd.DataFrame:
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


def _plans(m: _Mapped, frame: pd.DataFrame, currency: pd.Series) -> pd.DataFrame:
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
    amount = m.amounts("installment_amount", currency)
    m.missing(amount, "installment_amount", "missing installment amount")
    discount = m.amounts("first_payment_discount", currency).fillna(0)
    return pd.DataFrame({
        "order_id": frame["order_id"], "currency": currency, "start_date": start,
        "months": months, "days": days, "installments": installments,
        "installment_amount": amount, "first_payment_discount": discount,
        "end_date": m.dates("end_date"), "next_payment_date": m.dates("next_payment_date"),
    })


def _merge_line_items(m: _Mapped) -> _Mapped:
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


def _reject_line_items_of_rejected(m: _Mapped, keep: pd.Series) -> None:
    """Further rows of an order that was rejected are rejected with it."""
    if m.line_item_of.empty:
        return
    rejected_first = set(keep.index[~keep.to_numpy()])
    first = m.line_item_of
    mask = pd.Series(first.isin(rejected_first).to_numpy(), index=first.index).reindex(m.log.rows.index, fill_value=False)
    reason = "line item of an order rejected at row " + m.log.rows.reindex(first.to_numpy()).astype("string").to_numpy()
    m.log.add(mask, "order_id", pd.Series(reason, index=first.index).reindex(m.log.rows.index).fillna(""))


def _conflicting_duplicates(frame: pd.DataFrame, amounts: pd.DataFrame, m: _Mapped) -> pd.Index:
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
