"""Bank statements: read ISO 20022 camt.053/camt.054 and SWIFT MT940 into one table of entries, match the
customers' payments to orders, and record them in the ledger (`dunning track statement`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dunning.errors import InputError
from dunning.statements import camt, swift
from dunning.statements.entries import ENTRY_COLUMNS

__all__ = ["ENTRY_COLUMNS", "read"]


def read(path: Path) -> pd.DataFrame:
    """The entries of a statement file (camt.053, camt.054 or MT940, told apart by their content)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the statement ({exc.strerror})") from None
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:200]
    if head.startswith(b"<"):
        return camt.entries(data, path)
    if b":20:" in data[:2000] or head.startswith(b"{1:"):
        return swift.entries(data, path)
    raise InputError(f"{path}: not a bank statement this tool reads (camt.053, camt.054 or MT940)")
