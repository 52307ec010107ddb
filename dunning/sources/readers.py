"""Read CSV (UTF-8, UTF-8 with BOM, Windows-1252), XLSX and Parquet into frames of text."""
from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from dunning.errors import InputError
from dunning.sources.parsing import TYPED_DATE_FORMAT

ENCODINGS = ("utf-8-sig", "cp1252")
SPREADSHEET_ROW_OFFSET = 2  # header is row 1, so data row 0 is row 2 as a spreadsheet shows it


def read_table(path: Path, *, delimiter: str = "auto", encoding: str = "auto") -> pd.DataFrame:
    """All cells as text ("" for empty), headers stripped; raises InputError with one clear sentence."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame = _read_xlsx(path)
    elif suffix == ".parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_csv(path, delimiter=delimiter, encoding=encoding)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    frame.attrs.setdefault("bad_rows", [])
    if frame.empty and not frame.attrs["bad_rows"]:
        raise InputError(f"{path}: the file has a header but no rows")
    return frame


def _read_csv(path: Path, *, delimiter: str, encoding: str) -> pd.DataFrame:
    enc = _detect_encoding(path) if encoding == "auto" else encoding
    with path.open(encoding=enc, newline="") as handle:
        head = handle.read(64 * 1024)
    sep = _sniff_delimiter(head) if delimiter == "auto" else delimiter
    try:
        frame = pd.read_csv(
            path, sep=sep, encoding=enc, dtype="string", keep_default_na=False,
            engine="pyarrow" if len(sep) == 1 else "python",
        )
    except UnicodeDecodeError:
        raise InputError(f"{path}: the file is not readable as {enc}; save it as UTF-8 or set [format] encoding") from None
    except (pd.errors.ParserError, ValueError):
        frame = _read_csv_row_by_row(path, sep=sep, encoding=enc)
    if frame.shape[1] == 1:
        other = _sniff_delimiter(head)
        hint = f"; the header looks {other!r}-separated" if other != sep else ""
        raise InputError(f"{path}: only one column found with delimiter {sep!r}{hint}")
    return frame.fillna("")


def _read_csv_row_by_row(path: Path, *, sep: str, encoding: str) -> pd.DataFrame:
    """Slow path for files with ragged rows: keep the well-formed ones, list the others in attrs["bad_rows"]."""
    with path.open(encoding=encoding, newline="") as handle:
        records = list(csv.reader(handle, delimiter=sep))
    header, body = records[0], records[1:]
    good: dict[int, list[str]] = {}
    bad: list[tuple[int, str]] = []
    for number, record in enumerate(body):
        if len(record) == len(header):
            good[number] = record
        elif record:
            bad.append((number + SPREADSHEET_ROW_OFFSET, f"row has {len(record)} fields, the header has {len(header)}"))
    frame = pd.DataFrame.from_dict(good, orient="index", columns=header, dtype="string") if good else pd.DataFrame(columns=header, dtype="string")
    if not good and bad:
        raise InputError(f"{path}: no row has as many fields as the header ({len(header)}) with delimiter {sep!r}")
    frame.attrs["bad_rows"] = bad
    return frame


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as such, else Windows-1252 as Excel writes it."""
    data = path.read_bytes()
    for enc in ENCODINGS:
        try:
            data.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: unknown encoding (neither UTF-8 nor Windows-1252)")


def _sniff_delimiter(head: str) -> str:
    """The delimiter of the header line: the most frequent of , ; tab |."""
    first_line = head.splitlines()[0] if head else ""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in ",;\t|"}
        return max(counts, key=counts.get)


def _read_xlsx(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_excel(path, dtype=object, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    return as_text(frame)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a broken file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    return as_text(frame)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed cells as text; a cell typed as a date (or date and time) becomes ISO 8601 with a 'T', which
    `parsing.parse_dates` reads whatever the profile's date format."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.dt.strftime(TYPED_DATE_FORMAT)
        else:
            out[column] = values.map(_cell_text)
    return pd.DataFrame(out, index=frame.index).astype("string").fillna("")


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (datetime, date)):
        return value.strftime(TYPED_DATE_FORMAT)
    return str(value)
