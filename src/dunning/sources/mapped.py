"""The canonical columns a profile picks from a raw export, with row numbers and a reject log; shared by
the order and the payment readers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dunning.arrowtext import arrow_strings
from dunning.errors import InputError
from dunning.money import known_currencies, parse_amounts
from dunning.sources import parsing
from dunning.sources.profiles import Profile
from dunning.sources.readers import SPREADSHEET_ROW_OFFSET, as_text, read_table
from dunning.sources.rejects import RejectLog


class Counted:
    """Rows read, rejected and accepted, for the result of reading one input (`rejects`, `rows_in`)."""

    rejects: pd.DataFrame
    rows_in: int

    @property
    def rows_rejected(self) -> int:
        return int(self.rejects["row"].nunique())

    @property
    def rows_accepted(self) -> int:
        return self.rows_in - self.rows_rejected


def raw_table(source: str | Path | pd.DataFrame, profile: Profile, name: str) -> tuple[pd.DataFrame, Path]:
    """A file (CSV, XLSX, Parquet) read as text, or a DataFrame already in memory as text; and the name it goes by."""
    if isinstance(source, pd.DataFrame):
        return as_text(source.reset_index(drop=True)), Path(name)
    path = Path(source)
    return read_table(path, delimiter=str(profile.fmt("delimiter")), encoding=str(profile.fmt("encoding")),
                      sheet=str(profile.fmt("sheet"))), path


class Mapped:
    """The canonical columns picked from a raw export, with the row numbers and a reject log."""

    def __init__(self, raw: pd.DataFrame, profile: Profile, path: Path):
        self.profile = profile
        self.path = path
        self.rows = pd.Series(raw.index.to_numpy() + SPREADSHEET_ROW_OFFSET, index=raw.index)
        self.log = RejectLog(str(path), self.rows)
        self.log.add_rows(raw.attrs.get("bad_rows", []), "(row)")
        self.rows_in = len(raw) + len({row for row, _ in raw.attrs.get("bad_rows", [])})
        self.blank_rows = int(raw.attrs.get("blank_rows", 0))
        self.sheet = str(raw.attrs.get("sheet", ""))
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
            column = _stripped(raw[found[0]])
            for header in found[1:]:
                column = column.where(column != "", _stripped(raw[header]))
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
        return per_value(text, lambda distinct: distinct.map(lambda v: table.get(v, folded.get(v.casefold(), v))).astype("string"))

    def dates(self, name: str) -> pd.Series:
        parsed, reason = parsing.parse_dates(self.text(name), str(self.profile.fmt("date_format")))
        self.log.add(reason != "", name, reason, self.text(name))
        return parsed

    def notes(self) -> list[str]:
        """What the reader did that the user should hear: blank rows skipped, the sheet read."""
        said = [f"{self.blank_rows} blank rows skipped"] if self.blank_rows else []
        return said + ([f"read the sheet {self.sheet!r}"] if self.sheet else [])

    def amounts(self, name: str, currency: pd.Series, *, allow_negative: bool = False, exps: pd.Series | None = None) -> pd.Series:
        minor, reason = parse_amounts(
            self.text(name), currency, exps=exps,
            decimal=str(self.profile.fmt("decimal")), thousands=str(self.profile.fmt("thousands")),
        )
        self.log.add(reason != "", name, reason, self.text(name))
        huge = (minor.abs() >= MAX_MINOR).fillna(False).astype(bool)
        self.log.add(huge, name, "larger than any order's amount (10^12 minor units)", self.text(name))
        minor = minor.mask(huge)
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


def _stripped(column: pd.Series) -> pd.Series:
    """The column without spaces around its values: the column itself when none has any (then it is not kept twice)."""
    stripped = column.str.strip()
    same = np.array_equal(stripped.str.len().to_numpy(dtype="int64", na_value=-1), column.str.len().to_numpy(dtype="int64", na_value=-1))
    return column if same else stripped


def normalise_words(values: pd.Series) -> pd.Series:
    """'Bank Transfer' -> 'bank_transfer'."""
    return per_value(values, lambda v: v.str.strip().str.lower().str.replace(r"[\s-]+", "_", regex=True))


def per_value(values: pd.Series, transform) -> pd.Series:
    """Apply a text transform once per distinct value (methods, kinds, languages have few) and map back."""
    encoded = arrow_strings(values).dictionary_encode()
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype="string")
    changed = pa.array(transform(distinct).fillna(""), type=pa.large_string())
    return pd.Series(pd.arrays.ArrowExtensionArray(changed.take(encoded.indices)), index=values.index, dtype="string")


MAX_MINOR = 10**12  # ten billion in a currency of two decimals: no order is larger
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def bounded(m: Mapped, frame: pd.DataFrame, limits: dict[str, int]) -> None:
    """Rows whose text is longer than its field holds, or holds a control character (a NUL byte), are rejected with
    why: nothing a store cannot hold, or a spreadsheet would mangle, gets in."""
    for column, limit in limits.items():
        if column not in frame:
            continue
        text = frame[column].astype("string").fillna("")
        long = (text.str.len() > limit).fillna(False).astype(bool)  # the values shown are made for the rows rejected only
        m.log.add(long, column, f"longer than {limit} characters", text[long].str.slice(0, 40) + "...")
        control = text.str.contains(_CONTROL, regex=True).fillna(False).astype(bool)
        m.log.add(control, column, "holds a control character (such as a NUL byte)",
                  text[control].str.replace(_CONTROL, "?", regex=True))


def kept(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The rows `keep` marks, numbered from 0 (not copied when every row is kept: the common case)."""
    return (frame if bool(keep.all()) else frame[keep]).reset_index(drop=True)
