"""Amounts as integer minor units: currency exponents, parsing shop text, formatting with babel."""
from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from babel import Locale
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol, list_currencies

from dunning.arrowtext import arrow_strings

MINOR_DTYPE = "Int64"


# ISO 4217 codes that are not money a customer owes: precious metals, the testing code, "no currency", bond-market
# units, special drawing rights and codes withdrawn (XAF, XOF, XPF, XCD, XCG, XAD are real currencies and stay).
NOT_MONEY = frozenset({"XAG", "XAU", "XPD", "XPT", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XFO",
                       "XFU", "XEU", "XRE"})


@lru_cache(maxsize=None)
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes babel knows that are money (not metals, test codes or accounting units)."""
    return frozenset(list_currencies()) - NOT_MONEY


# ISO 4217's minor units where they are not 2 (list one, and the withdrawn codes babel still lists). CLDR's digits
# are not used: they round for display (HUF 0, IDR 0) and have changed between babel releases (HUF 2 -> 0, RSD 0 -> 2),
# and the ledger's minor units must mean the same whatever babel is installed.
MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
                     "XAF", "XOF", "XPF", "ADP", "BYR", "ESP", "ITL", "LUF", "MGF", "TRL"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency as ISO 4217 sets them (EUR 2, HUF 2, JPY 0, KWD 3)."""
    return MINOR_UNITS.get(currency, 2)


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
    return _amount_formatter(currency, locale)(int(minor))


def _babel_amount(minor: int, currency: str, locale: str) -> str:
    """babel's text; where CLDR shows fewer digits than ISO 4217 keeps (HUF), every digit of the amount is shown,
    never rounded away."""
    same = get_currency_precision(currency) == exponent(currency)
    return format_currency(to_decimal(minor, currency), currency, locale=locale, currency_digits=same,
                           decimal_quantization=same)


MAX_EXPONENT = 4  # the most digits after the point any ISO 4217 currency has (CLF, UYW)
_AMOUNT_SHAPE = r"^-?[0-9]{1,15}(\.[0-9]+)?$"
_DECORATION = r"\s+[A-Z]{3}$|^[A-Z]{3}\s+|[€$£¥\s\x{00a0}\x{202f}]"


def parse_amounts(
    text: pd.Series, currencies: pd.Series, *, decimal: str = ".", thousands: str = "", exps: pd.Series | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Parse shop amount text ("1.234,56", "€ 12,50", "-3") into minor units, vectorised and exact.

    Returns (minor units as Int64, reason per row for values that are not amounts; "" where fine).
    Empty text gives <NA> with no reason: the caller decides whether the column is required.
    `exps` overrides the currencies' exponents (for amounts whose currency is not known yet).
    """
    arr = pc.utf8_trim_whitespace(arrow_strings(text))
    grouped = pa.array(np.zeros(len(arr), dtype=bool))
    if thousands:  # a thousands mark must stand between groups of three digits: "12.50" in a decimal-comma file is no amount
        has = pc.match_substring(arr, thousands)
        core = pc.replace_substring_regex(arr, _DECORATION, "")
        proper = pc.match_substring_regex(core, rf"^[-+]?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+(?:{re.escape(decimal)}\d+)?$")
        grouped = pc.and_(has, pc.invert(proper))
        arr = pc.replace_substring(arr, thousands, "")
    if decimal != ".":
        arr = pc.if_else(grouped, arr, pc.replace_substring(arr, decimal, "."))
    empty = pc.equal(pc.utf8_length(arr), 0)
    well_formed = pc.match_substring_regex(arr, _AMOUNT_SHAPE)
    if not pc.all(pc.or_(well_formed, empty)).as_py():
        arr = pc.if_else(well_formed, arr, pc.replace_substring_regex(arr, _DECORATION, ""))
        well_formed = pc.match_substring_regex(arr, _AMOUNT_SHAPE)
    point = pc.find_substring(arr, ".")
    frac_len = pc.if_else(pc.greater_equal(point, 0), pc.subtract(pc.subtract(pc.utf8_length(arr), point), 1), 0)
    exps = pa.array((exponents(currencies) if exps is None else exps).to_numpy(dtype="int64"))
    too_precise = pc.and_(well_formed, pc.greater(frac_len, exps))
    usable = pc.and_(well_formed, pc.invert(too_precise))

    minor = pa.nulls(len(arr), pa.int64())
    for exp in pc.unique(exps).to_pylist():
        ok = pc.and_(usable, pc.equal(exps, exp))
        exact = pc.cast(pc.if_else(ok, arr, "0"), pa.decimal128(15 + exp, exp))
        scaled = pc.cast(pc.multiply(exact, pa.scalar(10**exp, pa.decimal128(5, 0))), pa.int64())
        minor = pc.if_else(ok, scaled, minor)

    reason = pc.if_else(
        empty, "",
        pc.if_else(grouped, f"ambiguous: {thousands!r} is this file's thousands mark, but it does not stand between groups of "
                            f"three digits (the decimal mark is {decimal!r}); never read as a factor of a hundred",
                   pc.if_else(pc.invert(well_formed), "not an amount",
                              pc.if_else(too_precise, "more decimals than the currency has", ""))),
    )
    minor = pc.if_else(grouped, pa.scalar(None, pa.int64()), minor)
    index = text.index
    return (
        pd.Series(minor.to_numpy(zero_copy_only=False), index=index).astype(MINOR_DTYPE),
        pd.Series(reason.to_numpy(zero_copy_only=False), index=index, dtype="string").fillna(""),
    )


def rescale(minor: pd.Series, from_exps: pd.Series, to_exps: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Minor units at one exponent as minor units at another, exactly; False where that would lose a digit."""
    shift = (from_exps - to_exps).to_numpy(dtype="int64")
    values = minor.to_numpy(dtype="int64", na_value=0)
    down = np.power(10, np.clip(shift, 0, None))
    up = np.power(10, np.clip(-shift, 0, None))
    exact = values % down == 0
    return pd.Series(values // down * up, index=minor.index), pd.Series(exact, index=minor.index)


def exponents(currencies: pd.Series) -> pd.Series:
    """Exponent per row; 2 for unknown currencies (they are rejected elsewhere)."""
    encoded = arrow_strings(currencies).dictionary_encode()
    table = np.array([exponent(c) if c in known_currencies() else 2 for c in encoded.dictionary.to_pylist()] + [2], dtype="int64")
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return pd.Series(table[codes], index=currencies.index)


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


def format_amounts(minor: pd.Series, currencies: pd.Series, locales: pd.Series) -> pd.Series:
    """`format_amount` for many rows: the same text babel gives, built from each locale's pattern once."""
    out = pd.Series("", index=minor.index, dtype="string")
    keys = pd.DataFrame({"currency": currencies.astype("string"), "locale": locales.astype("string")})
    for (currency, locale), rows in keys.groupby(["currency", "locale"], sort=False).groups.items():
        formatter = _amount_formatter(currency, locale)
        out[rows] = [formatter(int(v)) for v in minor[rows]]
    return out


@lru_cache(maxsize=256)
def _amount_formatter(currency: str, locale: str):
    """A function minor -> text for one currency and locale; babel itself where the pattern is unusual."""
    loc = Locale.parse(locale)
    pattern = loc.currency_formats["standard"]
    symbols = loc.number_symbols["latn"]
    exp = exponent(currency)
    if pattern.grouping != (3, 3) or (pattern.frac_prec[0], pattern.frac_prec[1]) not in ((2, 2), (exp, exp)):
        return lambda value: _babel_amount(value, currency, locale)
    sign = get_currency_symbol(currency, locale)
    prefixes = [p.replace("¤", sign) for p in pattern.prefix]
    suffixes = [s.replace("¤", sign) for s in pattern.suffix]
    group, point, minus = symbols["group"], symbols["decimal"], symbols["minusSign"]
    scale = 10**exp

    def render(value: int) -> str:
        negative = value < 0
        whole, frac = divmod(abs(value), scale)
        number = f"{whole:,}".replace(",", group) + (f"{point}{frac:0{exp}d}" if exp else "")
        if negative:
            prefix, suffix = prefixes[1], suffixes[1]
            return (prefix if "-" in prefix else prefix + minus).replace("-", minus) + number + suffix
        return prefixes[0] + number + suffixes[0]

    # CLDR has rules this shortcut does not model (e.g. grouping that starts only at five digits):
    # use it only where it gives babel's text.
    probes = (0, 7, 1234, 123456789012, -5, -1234567)
    if any(render(v) != _babel_amount(v, currency, locale) for v in probes):
        return lambda value: _babel_amount(value, currency, locale)
    return render
