"""Cells safe to open in a spreadsheet: OWASP's CSV-injection guard and no line breaks in names.

OWASP (CSV Injection): a cell beginning with =, +, -, @, tab (0x09) or carriage return (0x0D)
may be run as a formula by spreadsheet programs; prefixing it with a single quote makes it text.
"""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralise(values: pd.Series) -> pd.Series:
    """Text cells that would start a formula get a leading single quote."""
    text = values.astype("string").fillna("")
    risky = text.str.contains(_FORMULA_PATTERN, regex=True)
    return text.mask(risky, "'" + text)


def single_line(values: pd.Series) -> pd.Series:
    """Line breaks and tabs become single spaces (names and e-mail addresses stay on one line)."""
    return values.astype("string").fillna("").str.replace(r"[\r\n\t\u2028\u2029]+", " ", regex=True).str.strip()
