"""Files that hold customers' personal data: owner-only from the first byte, never silently replaced,
and CSV cells a spreadsheet will not run as formulas.

OWASP (CSV Injection): a cell beginning with =, +, -, @, tab (0x09) or carriage return (0x0D)
may be run as a formula by spreadsheet programs; prefixing it with a single quote makes it text.
"""
from __future__ import annotations

import csv
import errno
import io
import os
import re
from pathlib import Path

import pandas as pd

from dunning.errors import Failure, InputError

PRIVATE, PRIVATE_FOLDER = 0o600, 0o700
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^-?[0-9]+([.,][0-9]+)?$"


def starts_formula(values: pd.Series) -> pd.Series:
    """Text cells a spreadsheet would run as a formula; a plain number ('-5.00', '-5,00') is none."""
    text = values.astype("string").fillna("")
    starts = text.str.contains(_FORMULA_PATTERN, regex=True).fillna(False).astype(bool)
    if not starts.any():
        return starts
    return starts & ~text.where(starts, "").str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)


def neutralise(values: pd.Series) -> pd.Series:
    """Text cells that would start a formula get a leading single quote; a plain number ('-5.00') stays a number."""
    text = values.astype("string").fillna("")
    risky = starts_formula(text)
    return text.mask(risky, "'" + text) if risky.any() else text


def single_line(values: pd.Series) -> pd.Series:
    """Line breaks and tabs become single spaces (names and e-mail addresses stay on one line)."""
    return values.astype("string").fillna("").str.replace(r"[\r\n\t\u2028\u2029]+", " ", regex=True).str.strip()


def safe_name(text: str, default: str = "order") -> str:
    """Text (an order id) as part of a file name: letters, digits, '_', '.' and '-' only, never hidden or empty."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or default


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` readable by its owner only, whole or not at all (a temporary file in the same folder, synced, then
    renamed: a full disk never leaves a cut file under the name); an existing file is replaced only when `overwrite`."""
    staging = Staging()
    staging.write(path, data, overwrite=overwrite)
    staging.commit()
    return path


class Staging:
    """Files written under temporary names beside where they go, all given their names at `commit` (or all removed
    at `discard`): what a command writes appears only once what it records is committed."""

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []

    def write(self, path: Path, data: bytes, *, overwrite: bool = False) -> Path:
        if path.exists() and not overwrite:
            raise InputError(f"{path} exists; choose another path or pass --force to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{len(self.moves)}.part")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            self.discard()
            raise _failure(path, exc) from None
        self.moves.append((temporary, path))
        return path

    def commit(self) -> None:
        try:
            for temporary, path in self.moves:
                if path.exists() and not os.access(path, os.W_OK):
                    raise OSError(errno.EACCES, "permission denied")
                os.replace(temporary, path)
                os.chmod(path, PRIVATE)
        except OSError as exc:
            self.discard()
            raise _failure(path, exc) from None
        self.moves = []

    def discard(self) -> None:
        for temporary, _ in self.moves:
            temporary.unlink(missing_ok=True)
        self.moves = []


def _failure(path: Path, exc: OSError) -> Exception:
    """One sentence for a file that could not be written."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Failure(f"{path}: the disk is full; nothing was written under that name")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InputError(f"{path}: cannot write there ({exc.strerror})")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
        return InputError(f"{path}: no such folder, or a folder has that name ({exc.strerror})")
    return Failure(f"{path}: cannot be written ({exc.strerror})")


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
