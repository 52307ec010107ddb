"""Amounts as integer minor units: currency exponents, parsing shop text, formatting with babel."""
from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from babel.numbers import format_currency, get_currency_precision, list_currencies

MINOR_DTYPE = "Int64"


@lru_cache(maxsize=None)
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes babel knows."""
    return frozenset(list_currencies())


@lru_cache(maxsize=None)
def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (EUR 2, JPY 0), from babel's CLDR data."""
    return get_currency_precision(currency)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units to a Decimal in major units: 14970 EUR -> Decimal('149.70')."""
    return Decimal(int(minor)).scaleb(-exponent(currency))


def to_major_string(minor: int, currency: str) -> str:
    """Minor units as a plain decimal string in major units, e.g. '149.70'."""
    return f"{to_decimal(minor, currency):.{exponent(currency)}f}"


def from_decimal(value: Decimal | str, currency: str) -> int:
    """A major-unit amount (Decimal or plain string like '5.00') to minor units; refuses extra digits."""
    amount = Decimal(str(value))
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{value} has more decimals than {currency} allows")
    return int(minor)


def format_amount(minor: int, currency: str, locale: str) -> str:
    """Amount for people, in the customer's locale: '149,70 €' (de), '€ 149,70' (nl), '€149.70' (en)."""
    return format_currency(to_decimal(minor, currency), currency, locale=locale)


_AMOUNT_SHAPE = r"^-?[0-9]+(\.[0-9]+)?$"


def parse_amounts(
    text: pd.Series, currencies: pd.Series, *, decimal: str = ".", thousands: str = ""
) -> tuple[pd.Series, pd.Series]:
    """Parse shop amount text ("1.234,56", "€ 12,50", "-3") into minor units, vectorised.

    Returns (minor units as Int64, reason per row for values that are not amounts; "" where fine).
    Empty text gives <NA> with no reason: the caller decides whether the column is required.
    """
    arr = pa.array(text.astype("string").fillna(""), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.replace_substring_regex(arr, r"\s+[A-Z]{3}$|^[A-Z]{3}\s+|[€$£¥\s\x{00a0}\x{202f}]", "")
    if thousands:
        arr = pc.replace_substring(arr, thousands, "")
    if decimal != ".":
        arr = pc.replace_substring(arr, decimal, ".")
    empty = pc.equal(pc.utf8_length(arr), 0)
    well_formed = pc.match_substring_regex(arr, _AMOUNT_SHAPE)
    parts = pc.extract_regex(pc.if_else(well_formed, arr, "0"), r"^(?P<int>-?[0-9]+)(?:\.(?P<frac>[0-9]+))?$")
    whole = parts.field("int")
    frac = pc.fill_null(parts.field("frac"), "")
    exps = pa.array(exponents(currencies).to_numpy(dtype="int64"))
    frac_len = pc.utf8_length(frac)
    too_precise = pc.and_(well_formed, pc.greater(frac_len, exps))

    minor = pa.nulls(len(arr), pa.int64())
    usable = pc.and_(well_formed, pc.invert(too_precise))
    for exp in set(exps.to_pylist()):
        ok = pc.and_(usable, pc.equal(exps, exp))
        digits = pc.binary_join_element_wise(whole, pc.utf8_rpad(frac, width=exp, padding="0"), pa.scalar("", pa.large_string()))
        minor = pc.if_else(ok, pc.cast(pc.if_else(ok, digits, "0"), pa.int64()), minor)

    reason = pc.if_else(
        empty,
        "",
        pc.if_else(
            pc.invert(well_formed),
            "not an amount",
            pc.if_else(too_precise, "more decimals than the currency has", ""),
        ),
    )
    index = text.index
    return (
        pd.Series(minor.to_numpy(zero_copy_only=False), index=index).astype(MINOR_DTYPE),
        pd.Series(reason.to_numpy(zero_copy_only=False), index=index, dtype="string").fillna(""),
    )


def exponents(currencies: pd.Series) -> pd.Series:
    """Exponent per row; 2 for unknown currencies (they are rejected elsewhere)."""
    lookup = {c: exponent(c) if c in known_currencies() else 2 for c in currencies.unique() if isinstance(c, str)}
    return currencies.map(lookup).fillna(2).astype("int64")


def major_strings(minor: pd.Series, currencies: pd.Series) -> pd.Series:
    """Minor units as decimal strings in major units per row ('149.70', '-0.05', '18000'), vectorised."""
    exps = exponents(currencies)
    values = minor.astype("int64")
    magnitude = values.abs()
    sign = values.lt(0).map({True: "-", False: ""}).astype("string")
    out = pd.Series("", index=minor.index, dtype="string")
    for exp in exps.unique():
        rows = exps == exp
        scale = 10 ** int(exp)
        whole = (magnitude[rows] // scale).astype("string")
        if exp:
            frac = (magnitude[rows] % scale).astype("string").str.zfill(int(exp))
            out[rows] = sign[rows] + whole + "." + frac
        else:
            out[rows] = sign[rows] + whole
    return out


_MAJOR_RE = re.compile(r"^-?\d+(\.\d+)?$")


def parse_major(value: str, currency: str) -> int:
    """One plain major-unit amount from settings ('2.50') to minor units, with a clear error."""
    text = str(value).strip()
    if not _MAJOR_RE.match(text):
        raise ValueError(f"{value!r} is not an amount (write it like 2.50)")
    return from_decimal(text, currency)
