"""Published interest rates with the dates they apply from: shipped in `rates.csv`, added to by the merchant in the
workspace's `rates.csv` (`dunning rates add`), where a row of the same table and date replaces the shipped one."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import numpy as np

from dunning.errors import InputError

FILE_NAME = "rates.csv"
COLUMNS = ("table", "valid_from", "percent", "source")
HALF_YEARLY = ("de_base", "fr_legal", "ecb_mro")  # the tables the laws read, each set on 1 January and 1 July
_PERCENT = re.compile(r"^-?\d{1,2}(\.\d{1,2})?$")


@dataclass(frozen=True)
class Rate:
    table: str
    valid_from: date
    percent: Decimal
    source: str


@dataclass(frozen=True)
class Rates:
    """Every known rate, by table, the earliest first."""

    rows: tuple[Rate, ...]

    def of(self, table: str) -> tuple[Rate, ...]:
        return tuple(sorted((r for r in self.rows if r.table == table), key=lambda r: r.valid_from))

    def periods(self, table: str) -> tuple[np.ndarray, np.ndarray]:
        """The days a table's rates start (datetime64[D]) and the rates in hundredths of a percent (int64)."""
        rows = self.of(table)
        return (np.array([r.valid_from for r in rows], dtype="datetime64[D]"),
                np.array([int(r.percent * 100) for r in rows], dtype="int64"))

    def missing_since(self, table: str, as_of: date) -> date | None:
        """For a half-yearly table: the first half-year start up to `as_of` that it holds no rate for (the latest rate is
        used meanwhile, and the merchant should add the published one); None when it is complete."""
        rows = self.of(table)
        if table not in HALF_YEARLY or not rows:
            return None
        current = date(as_of.year, 1 if as_of.month < 7 else 7, 1)
        latest = rows[-1].valid_from
        return None if latest >= current else _next_half(latest)


def _next_half(day: date) -> date:
    return date(day.year, 7, 1) if day.month < 7 else date(day.year + 1, 1, 1)


def load(workspace_file: Path | None = None) -> Rates:
    """The shipped rates with the workspace's own (which win on the same table and date)."""
    shipped = (resources.files("dunning") / "law" / FILE_NAME).read_text("utf-8")
    rows = {(r.table, r.valid_from): r for r in _parsed(shipped.splitlines(), "the shipped rates.csv")}
    if workspace_file is not None and workspace_file.is_file():
        own = workspace_file.read_text("utf-8-sig").splitlines()
        rows |= {(r.table, r.valid_from): r for r in _parsed(own, str(workspace_file))}
    return Rates(tuple(rows.values()))


def add(workspace_file: Path, table: str, valid_from: str, percent: str, source: str) -> Rate:
    """Add (or replace) one rate in the workspace's table; refused with a clear message when it is not a rate."""
    if table not in HALF_YEARLY:
        raise InputError(f"no law reads a rate table {table!r}: the tables are {', '.join(HALF_YEARLY)}")
    rate = _rate(table, valid_from, percent, source or "added by the merchant", "the new rate")
    kept = [r for r in (_parsed(workspace_file.read_text("utf-8-sig").splitlines(), str(workspace_file))
                        if workspace_file.is_file() else []) if (r.table, r.valid_from) != (rate.table, rate.valid_from)]
    with workspace_file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for r in sorted([*kept, rate], key=lambda r: (r.table, r.valid_from)):
            writer.writerow([r.table, r.valid_from.isoformat(), f"{r.percent:.2f}", r.source])
    return rate


def _parsed(lines: list[str], origin: str) -> list[Rate]:
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise InputError(f"{origin}: the header must be {','.join(COLUMNS)}")
    return [_rate(row["table"], row["valid_from"], row["percent"], row["source"] or "", f"{origin}: row {number}")
            for number, row in enumerate(reader, start=2)]


def _rate(table: str, valid_from: str, percent: str, source: str, where: str) -> Rate:
    table = (table or "").strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", table):
        raise InputError(f"{where}: table {table!r} must be a short name in lower-case letters, digits and _ (e.g. de_base)")
    try:
        day = date.fromisoformat((valid_from or "").strip())
    except ValueError:
        raise InputError(f"{where}: valid_from {valid_from!r} is not a date (write it like 2026-07-01)") from None
    text = (percent or "").strip()
    if not _PERCENT.match(text):
        raise InputError(f"{where}: percent {percent!r} is not a rate in percent with at most two decimals (e.g. 1.27)")
    return Rate(table, day, Decimal(text), (source or "").strip()[:300])
