"""The fields every newsletter export carries, with their meaning, and their values per row."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd
from babel.dates import format_date

from dunning.languages import for_templates
from dunning.money import format_amounts, major_strings

TEMPLATE_LANGUAGES = ("nl", "de", "fr", "en")  # the languages the shipped reminders are written in

NUMBER, TEXT, DATE = "number", "text", "date"


@dataclass(frozen=True)
class Field:
    """One export column before a dialect names it."""

    key: str
    kind: str
    meaning: str


FIELDS: tuple[Field, ...] = (
    Field("email", TEXT, "the customer's e-mail address"),
    Field("first_name", TEXT, "first name"),
    Field("last_name", TEXT, "last name"),
    Field("order_id", TEXT, "the shop's order id"),
    Field("product_name", TEXT, "the product ordered"),
    Field("open_amount", NUMBER, "what is overdue, in major units with a decimal point"),
    Field("open_amount_text", TEXT, "what is overdue, formatted for the customer's language (e.g. 149,70 €)"),
    Field("paid_amount", NUMBER, "what was paid on the order so far, in major units"),
    Field("paid_amount_text", TEXT, "what was paid, formatted for the customer's language"),
    Field("fee_text", TEXT, "the reminder fees asked: those of earlier reminders still open and this stage's, formatted (empty when none)"),
    Field("interest_text", TEXT, "the default interest asked (by the law the policy follows): accrued and not asked before, "
                                 "with that charged earlier and still open, formatted (empty when none)"),
    Field("costs_text", TEXT, "the lump sum or collection costs asked, with those charged earlier and still open, formatted "
                              "(empty when none)"),
    Field("costs_warning_text", TEXT, "the collection costs a fourteen-day letter announces should the term pass unpaid "
                                      "(empty in every other message)"),
    Field("other_orders_text", TEXT, "the customer's other orders this row stands for (a tool keeps one contact per "
                                     "address): each with what is open, since when and its own link (empty when none)"),
    Field("currency", TEXT, "ISO 4217 currency code"),
    Field("due_date", DATE, "the oldest date on which something open fell due"),
    Field("due_date_text", TEXT, "that date, formatted for the customer's language"),
    Field("days_overdue", NUMBER, "days from the due date to the as-of date"),
    Field("stage", TEXT, "reminder stage reached (friendly, second, final)"),
    Field("language", TEXT, "the customer's language (nl, de, fr, en)"),
    Field("token", TEXT, "the signed manage token of the order"),
    Field("manage_url", TEXT, "the link that opens this order, and no other, for the customer"),
    Field("link_expires_text", TEXT, "when the link stops working, formatted for the customer's language"),
    Field("order_date", DATE, "the date the order was placed (a plan's start; empty where the export has none)"),
    Field("order_date_text", TEXT, "that date, formatted for the customer's language"),
)
FIELD_KEYS = tuple(f.key for f in FIELDS)


def values(frame: pd.DataFrame, fallback_language: str, available: Collection[str] = TEMPLATE_LANGUAGES) -> pd.DataFrame:
    """Per overdue order, every field as text (numbers and dates still unformatted for the dialect), in the
    customer's language where a template exists (`available`), else in the fallback language."""
    language = for_templates(frame["language"], set(available), fallback_language)
    out = pd.DataFrame(index=frame.index)
    for key in ("email", "first_name", "last_name", "order_id", "product_name", "currency", "stage"):
        out[key] = frame[key].fillna("").astype("string")
    out["language"] = language
    out["open_amount"] = major_strings(frame["open_amount"], frame["currency"])
    out["paid_amount"] = major_strings(frame["paid_amount"], frame["currency"])
    out["open_amount_text"] = format_amounts(frame["open_amount"], frame["currency"], language)
    out["paid_amount_text"] = format_amounts(frame["paid_amount"], frame["currency"], language)
    fee = frame["fee"].fillna(0) if "fee" in frame else pd.Series(0, index=frame.index)
    if "fees_open" in frame:
        fee = fee + frame["fees_open"].fillna(0)
    out["fee_text"] = format_amounts(fee, frame["currency"], language).where(fee > 0, "")
    for key, columns in (("interest_text", ("interest", "interest_open")), ("costs_text", ("costs", "costs_open")),
                         ("costs_warning_text", ("costs_warning",))):
        amount = sum((frame[c].fillna(0).astype("int64") for c in columns if c in frame), pd.Series(0, index=frame.index))
        out[key] = format_amounts(amount, frame["currency"], language).where(amount > 0, "")
    out["other_orders_text"] = ""  # filled where an export's row stands for several orders (exports.writer)
    due = pd.to_datetime(frame["oldest_due_date"])
    out["due_date"] = due
    out["due_date_text"] = _dates_for_people(due, language)
    out["days_overdue"] = frame["days_overdue"].astype("int64").astype("string")
    for key in ("token", "manage_url"):
        out[key] = frame[key].fillna("").astype("string") if key in frame else ""
    if "link_expires_at" in frame:
        out["link_expires_text"] = _dates_for_people(pd.to_datetime(frame["link_expires_at"]), language)
    else:
        out["link_expires_text"] = ""
    ordered = pd.to_datetime(frame["created_at"]) if "created_at" in frame else pd.Series(pd.NaT, index=frame.index)
    out["order_date"] = ordered
    out["order_date_text"] = _dates_for_people(ordered, language)
    return out


def _dates_for_people(dates: pd.Series, language: pd.Series) -> pd.Series:
    """Dates in each row's language (medium length: '02.11.2026', '2 nov 2026', 'Nov 2, 2026')."""
    out = pd.Series("", index=dates.index, dtype="string")
    for lang, rows in language.groupby(language).groups.items():
        picked = dates[rows].dropna()
        text = {d: format_date(d.date(), format="medium", locale=lang) for d in picked.unique()}
        out[picked.index] = picked.map(text)
    return out
