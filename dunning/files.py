"""Files that hold customers' personal data: owner-only from the first byte, never silently replaced,
and CSV cells a spreadsheet will not run as formulas.

OWASP (CSV Injection): a cell beginning with =, +, -, @, tab (0x09) or carriage return (0x0D)
may be run as a formula by spreadsheet programs; prefixing it with a single quote makes it text.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd

from dunning.errors import InputError

PRIVATE, PRIVATE_FOLDER = 0o600, 0o700
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def neutralise(values: pd.Series) -> pd.Series:
    """Text cells that would start a formula get a leading single quote; a plain number ('-5.00') stays a number."""
    text = values.astype("string").fillna("")
    starts = text.str.contains(_FORMULA_PATTERN, regex=True).fillna(False).astype(bool)
    if not starts.any():
        return text
    risky = starts & ~text.where(starts, "").str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)
    return text.mask(risky, "'" + text)


def single_line(values: pd.Series) -> pd.Series:
    """Line breaks and tabs become single spaces (names and e-mail addresses stay on one line)."""
    return values.astype("string").fillna("").str.replace(r"[\r\n\t\u2028\u2029]+", " ", regex=True).str.strip()


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` readable by its owner only; an existing file is replaced only when `overwrite`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, PRIVATE)
    except FileExistsError:
        raise InputError(f"{path} exists; choose another path or pass --force to replace it") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, PRIVATE)
    return path


def private_folder(path: Path) -> Path:
    """A folder (and its missing parents) only its owner can enter."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_FOLDER)
    return path


def csv_bytes(frame: pd.DataFrame, *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    """The frame as CSV with every text cell guarded (numbers stay numbers)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(frame.columns)
    writer.writerows(guarded(frame).itertuples(index=False, name=None))
    return buffer.getvalue().encode(encoding)


def guarded(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column through the formula guard."""
    return pd.DataFrame({name: neutralise(frame[name]) for name in frame.columns}, index=frame.index)
