"""Overdue rows as plain records: money as decimal strings in major units, dates in ISO form."""
from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from dunning import files
from dunning.exports.dialects import decimal_symbol, excel_delimiter
from dunning.money import major_strings

MONEY_COLUMNS = ("open_amount", "paid_amount", "fee", "interest", "costs", "ledger_paid")
RECORD_COLUMNS = [
    "order_id", "email", "first_name", "last_name", "product_name", "kind", "payment_method",
    "currency", "open_amount", "paid_amount", "ledger_paid", "fee", "interest", "costs", "oldest_due_date", "days_overdue",
    "open_installments", "stage", "last_stage", "last_reminded_on", "reminders_sent", "reason", "language",
    "token", "manage_url",
]


def money_text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A money column as decimal strings in each row's currency ('149.70')."""
    return major_strings(frame[column], frame["currency"])


def records(frame: pd.DataFrame) -> pd.DataFrame:
    """The overdue frame with money as decimal strings and dates as ISO text; token columns kept when present,
    and `why` for orders not dunned."""
    out = frame.copy()
    for column in ("ledger_paid", "interest", "costs"):
        if column not in out:
            out[column] = pd.array([0] * len(out), dtype="Int64")
    for column in MONEY_COLUMNS:
        out[column] = money_text(out, column)
    for column in ("oldest_due_date", "last_reminded_on"):
        out[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d").fillna("")
    for column in ("token", "manage_url"):
        if column not in out:
            out[column] = ""
    return out[RECORD_COLUMNS + (["why"] if "why" in out else [])]


def json_ready(value: object) -> object:
    """A value json.dumps can write."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if pd.isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def write_csv(frame: pd.DataFrame, path: Path, *, overwrite: bool = False, excel_language: str | None = None) -> Path:
    """The overdue records as UTF-8 CSV, owner-only, cells guarded (written by Arrow: fast for hundreds of
    thousands of rows); an existing file is replaced only with `overwrite`. For Excel in a language: a
    byte-order mark, that language's list separator, and amounts as numbers in its decimal mark, unquoted."""
    rows = records(frame)
    if excel_language:
        decimal = decimal_symbol(excel_language)
        for column in MONEY_COLUMNS:
            rows[column] = rows[column].astype("string").str.replace(".", decimal, regex=False)
        data = files.csv_bytes(rows, delimiter=excel_delimiter(excel_language))
        return files.write_private(path, b"\xef\xbb\xbf" + data, overwrite=overwrite)
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(files.guarded(rows), preserve_index=False)
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(quoting_style="needed"))
    return files.write_private(path, buffer.getvalue(), overwrite=overwrite)
