"""Read a payments file (or a DataFrame) through a profile: order_id, paid_at, amount, optional currency, payment_id
and kind (payment, or money going back: refund, chargeback, return); every row accepted or rejected."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dunning.arrowtext import arrow_strings
from dunning.money import MAX_EXPONENT, exponents, known_currencies
from dunning.sources.mapped import Counted, Mapped, bounded, kept, normalise_words, raw_table
from dunning.sources.profiles import Profile


KINDS = ("payment", "refund", "chargeback", "return")
_KIND_WORDS = {"charge_back": "chargeback", "charged_back": "chargeback", "dispute": "chargeback", "reversal": "chargeback",
               "refunded": "refund", "returned": "return", "returned_debit": "return", "paid": "payment"}


@dataclass
class PaymentExport(Counted):
    """Canonical payments of one file: order_id, paid_at, amount, currency, payment_id, kind, and the row it came from.

    `amount` is in minor units at `amount_exponent`: the currency's, or, where the file names no
    currency, the finest any currency has (the order's currency decides, in `journal.rules`). Money going back
    (a refund, chargeback or return) is negative, however the file wrote it."""

    path: Path
    payments: pd.DataFrame
    rejects: pd.DataFrame
    rows_in: int
    notes: list[str] = field(default_factory=list)


def read_payments(source: str | Path | pd.DataFrame, profile: Profile, name: str = "payments") -> PaymentExport:
    """Read a payments file, or a DataFrame already in memory (`name` stands for it in messages)."""
    raw, path = raw_table(source, profile, name)
    m = Mapped(raw, profile, path)
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
    amount = m.amounts("amount", currency, exps=amount_exponent, allow_negative=True)
    m.missing(amount, "amount", "missing amount")
    kind = normalise_words(m.mapped_values("kind")).replace(_KIND_WORDS)
    m.log.add((kind != "") & ~kind.isin(KINDS), "kind", f"unknown kind of payment (one of {', '.join(KINDS)})", kind)
    back = kind.isin(KINDS[1:])
    m.log.add(~back & (kind != "") & (amount.fillna(0) < 0), "amount", "a negative amount with the kind payment", m.text("amount"))
    m.log.add((kind == "") & (amount.fillna(0) < 0), "amount",
              "a negative amount needs its kind (refund, chargeback or return) in a kind column", m.text("amount"))
    m.log.add(amount.fillna(1) == 0, "amount", "an amount of zero is no payment", m.text("amount"))
    amount = amount.abs().where(~back, -amount.abs())
    payments = pd.DataFrame({
        "order_id": order_id, "paid_at": paid_at, "amount": amount, "amount_exponent": amount_exponent,
        "currency": currency, "payment_id": m.text("payment_id"), "kind": kind.where(kind != "", "payment"), "row": m.rows,
    })
    keep = pd.Series(~payments.index.isin(m.log.rejected_index()), index=payments.index)
    if _an_id_repeats(payments["payment_id"], keep):
        has_id = keep & (payments["payment_id"] != "")
        repeated = has_id & payments["payment_id"].where(has_id).duplicated(keep=False)
        same_id = payments[repeated]
        variants = same_id.drop_duplicates(subset=["payment_id", "order_id", "paid_at", "amount", "currency"])
        conflicting = repeated & payments["payment_id"].isin(variants.loc[variants["payment_id"].duplicated(), "payment_id"])
        m.log.add(conflicting, "payment_id", "payment id appears with different data", payments["payment_id"])
        keep &= ~conflicting
        keep &= ~(repeated & ~conflicting & payments["payment_id"].where(repeated & ~conflicting).duplicated())
    bounded(m, payments, {"order_id": 200, "payment_id": 250})
    keep &= ~payments.index.isin(m.log.rejected_index())
    result = kept(payments, keep)
    return PaymentExport(path, result, m.log.frame(), m.rows_in, m.notes())


def _an_id_repeats(ids: pd.Series, keep: pd.Series) -> bool:
    """Whether a payment id appears more than once among the rows kept. A file whose every row has an id of its own
    (the usual case) is told by counting the ids as they are, without a copy of them."""
    if pc.count_distinct(pa.array(ids.array)).as_py() == len(ids):
        return False
    named = arrow_strings(ids[keep & (ids != "")])
    return pc.count_distinct(named).as_py() < len(named)
