"""Read CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM, Windows-1252), XLSX and Parquet into frames of text.

Every line of a file is a row read, rejected, or (blank) skipped and counted: a quote that never closes is found and
named, never a silent swallow of the rows after it. What cannot be read at all is one sentence."""
from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from dunning.errors import InputError
from dunning.sources.parsing import TYPED_DATE_FORMAT

SPREADSHEET_ROW_OFFSET = 2  # header is row 1, so data row 0 is row 2 as a spreadsheet shows it
MAX_COLUMNS = 500  # far more than any export a profile maps: a wider header is not an export
_UTF8_IN_1252 = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")  # what UTF-8 letters look like among Windows-1252 bytes


def read_table(path: Path, *, delimiter: str = "auto", encoding: str = "auto", sheet: str = "") -> pd.DataFrame:
    """All cells as text ("" for empty), headers stripped; raises InputError with one clear sentence."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame = _read_xlsx(path, sheet)
    elif suffix == ".parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_csv(path, delimiter=delimiter, encoding=encoding)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    _unique_headers(path, list(frame.columns))
    frame.attrs.setdefault("bad_rows", [])
    frame.attrs.setdefault("blank_rows", 0)
    blank = (frame == "").all(axis=1) if len(frame.columns) else pd.Series(False, index=frame.index)
    if blank.any():  # rows of nothing but empty cells (or delimiters) are skipped and counted
        frame.attrs["blank_rows"] += int(blank.sum())
        attrs = frame.attrs
        frame = frame[~blank]
        frame.attrs.update(attrs)
    if frame.empty and not frame.attrs["bad_rows"]:
        raise InputError(f"{path}: the file has a header but no rows")
    return frame


def _read_csv(path: Path, *, delimiter: str, encoding: str) -> pd.DataFrame:
    data = path.read_bytes()
    text = _decoded(data, path, encoding)
    if not text.strip():
        raise InputError(f"{path}: the file holds nothing but {'a byte-order mark' if data.strip() else 'blank lines'}")
    header_line = text.lstrip("\ufeff").split("\n", 1)[0]
    sep = _sniff_delimiter(header_line) if delimiter == "auto" else delimiter
    if header_line.count(sep) >= MAX_COLUMNS:
        raise InputError(f"{path}: the header has {header_line.count(sep) + 1:,} columns; an export has far fewer "
                         f"(at most {MAX_COLUMNS}): is this the right file?")
    names = next(csv.reader([header_line.rstrip("\r")], delimiter=sep), [])
    _unique_headers(path, [h.strip() for h in names])
    end, trailing = _content_end(text, sep)  # the blank lines a spreadsheet leaves at the end are left out
    quoted_lines = (text.find("\n\"", 0, end) >= 0 or text.find('"\n', 0, end) >= 0
                    or (text.find("\n", 0, end) >= 0 and text.count('"', 0, end) % 2 == 1))
    blank_lines = re.compile(rf"\n[ \t\r{re.escape(sep)}]*\n").search(text, 0, end) is not None  # they would shift the row numbers
    if not quoted_lines and not blank_lines and len(sep) == 1:
        try:
            frame = _read_csv_as_text(_utf8(data, text, end, encoding), sep, names)
        except (pd.errors.ParserError, ValueError):
            frame = _read_csv_line_by_line(path, text[:end], sep)
    else:
        frame = _read_csv_line_by_line(path, text[:end], sep)
    if frame.shape[1] == 1:
        other = _sniff_delimiter(header_line)
        hint = f"; the header looks {other!r}-separated" if other != sep else ""
        raise InputError(f"{path}: only one column found with delimiter {sep!r}{hint}")
    frame.attrs["blank_rows"] = frame.attrs.get("blank_rows", 0) + trailing
    return frame.fillna("")


def _content_end(text: str, sep: str) -> tuple[int, int]:
    """Where the text ends without the blank (or delimiter-only) lines a spreadsheet leaves at its end (just after the
    line break that ends the last line with content), and how many such lines there were."""
    blank = set(" \t\r\n" + sep)
    last = len(text)
    while last and text[last - 1] in blank:
        last -= 1
    cut = text.find("\n", last)
    if cut < 0:
        return len(text), 0
    return cut + 1, max(text.count("\n", cut) - 1, 0)


def _utf8(data: bytes, text: str, end: int, encoding: str) -> pa.Buffer | bytes:
    """The text's first `end` characters as UTF-8: the file's own bytes, not copied, when the text is ASCII read from
    them one byte per character (as UTF-8, with or without a byte-order mark, or Windows-1252); else encoded."""
    start = len(data) - len(text)
    if encoding == "auto" and text.isascii() and (start == 0 or (start == 3 and data.startswith(codecs.BOM_UTF8))):
        return pa.py_buffer(data).slice(start, end)
    return text[:end].encode("utf-8")


def _decoded(data: bytes, path: Path, encoding: str) -> str:
    """The file's text: UTF-16 with a byte-order mark, UTF-8 (with or without one), else Windows-1252 as Excel writes it;
    what is none of these, or mixes two, is one sentence that says what was found."""
    if encoding != "auto":
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{path}: the file is not readable as {encoding} ({exc}); set [format] encoding to its encoding") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{path}: the file starts as UTF-16 but is not readable as such; save it as UTF-8") from None
    if b"\x00" in data[:4096] and data[:4096].count(b"\x00") * 4 > min(len(data), 4096):
        raise InputError(f"{path}: the file looks like UTF-16 without a byte-order mark; save it as UTF-8 (or UTF-16 with one)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _UTF8_IN_1252.search(data):
            line = data[:exc.start].count(b"\n") + 1
            raise InputError(f"{path}: the file mixes encodings: UTF-8 letters, and on line {line} a byte UTF-8 does not "
                             "allow (Windows-1252?); save the whole file as UTF-8") from None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(f"{path}: unknown encoding (neither UTF-8, UTF-16 nor Windows-1252); save it as UTF-8") from None


def _read_csv_as_text(utf8: pa.Buffer | bytes, sep: str, names: list[str]) -> pd.DataFrame:
    """Every cell as the text it is (Arrow's reader told that every column is text: "12000" stays "12000" beside
    empty cells, "" and "NA" stay text)."""
    table = pa_csv.read_csv(pa.BufferReader(utf8), parse_options=pa_csv.ParseOptions(delimiter=sep),
                            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in names},
                                                                  strings_can_be_null=False, null_values=[]))
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)


def _read_csv_line_by_line(path: Path, text: str, sep: str) -> pd.DataFrame:
    """Files with ragged rows or line breaks inside quotes: every physical line is a row read, rejected (with why) or
    blank; a quote that never closes is named with the row where it opened, and the rows it swallowed are rejected."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    header = next(reader)
    width = len(header)
    good: dict[int, list[str]] = {}
    bad: list[tuple[int, str]] = []
    blank, last = 0, reader.line_num
    for record in reader:
        first, last_line = last + 1, reader.line_num
        last = last_line
        swallowed = [line for field in record if "\n" in field for line in field.split("\n")[1:] if line.count(sep) >= width - 1]
        if swallowed or (len(record) != width and last_line > first and any("\n" in f for f in record)):
            bad.append((first, f"a quote opened in this row never closes: it swallows the rows up to row {last_line}"))
            bad += [(line, f"inside the quote opened in row {first}, which never closes") for line in range(first + 1, last_line + 1)]
        elif not record or all(field == "" for field in record):
            blank += 1
        elif len(record) != width:
            bad.append((first, f"row has {len(record)} fields, the header has {width}"))
        else:
            good[first - SPREADSHEET_ROW_OFFSET] = record
    frame = pd.DataFrame.from_dict(good, orient="index", columns=header, dtype="string") if good else pd.DataFrame(columns=header, dtype="string")
    if not good and bad:
        raise InputError(f"{path}: no row has as many fields as the header ({width}) with delimiter {sep!r}")
    frame.attrs["bad_rows"] = bad
    frame.attrs["blank_rows"] = blank
    return frame


def _unique_headers(path: Path, headers: list[str]) -> None:
    """A header named twice would be read as one or the other by chance: name it."""
    seen: set[str] = set()
    twice = [h for h in headers if h and (h in seen or seen.add(h))]
    if twice:
        raise InputError(f"{path}: the header names the column {twice[0]!r} twice; rename one so that it is clear which is meant")


def _sniff_delimiter(first_line: str) -> str:
    """The delimiter of the header line: the most frequent of , ; tab |."""
    try:
        return csv.Sniffer().sniff(first_line[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in ",;\t|"}
        return max(counts, key=counts.get)


def _read_xlsx(path: Path, sheet: str) -> pd.DataFrame:
    """The workbook's one sheet, or the sheet named (by the profile's `sheet` or `--sheet`); several without a name is
    one sentence that lists them."""
    try:
        import openpyxl

        names = openpyxl.load_workbook(path, read_only=True).sheetnames
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    if sheet and sheet not in names:
        raise InputError(f"{path}: there is no sheet {sheet!r}; the sheets are {', '.join(repr(n) for n in names)}")
    if not sheet and len(names) > 1:
        raise InputError(f"{path}: the workbook has {len(names)} sheets ({', '.join(repr(n) for n in names)}); choose one "
                         "with --sheet or the profile's [format] sheet")
    chosen = sheet or names[0]
    header = next(openpyxl.load_workbook(path, read_only=True)[chosen].iter_rows(max_row=1, values_only=True), ())
    _unique_headers(path, [str(h).strip() for h in header if h is not None])
    try:
        frame = pd.read_excel(path, sheet_name=chosen, dtype=object, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    frame = as_text(frame)
    frame.attrs["sheet"] = chosen
    return frame


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
