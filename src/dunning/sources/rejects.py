"""Collect rejected rows (file, row, column, reason, value) and write them to a rejects CSV."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dunning.files import csv_bytes, write_private

REJECT_COLUMNS = ["file", "row", "column", "reason", "value"]


class RejectLog:
    """Problems found per row; a row with any problem is rejected."""

    def __init__(self, file: str, rows: pd.Series):
        self.file = file
        self.rows = rows
        self._parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str, reason: str | pd.Series, values: pd.Series | None = None) -> None:
        """Reject the rows where mask is true, with one reason (or a reason per row); the mask may cover
        only some of the rows (those still accepted), by index label."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        picked = self.rows[mask[mask].index]
        part = pd.DataFrame({
            "file": self.file,
            "row": picked.to_numpy(),
            "column": column,
            "reason": reason[picked.index].to_numpy() if isinstance(reason, pd.Series) else reason,
            "value": values[picked.index].astype("string").to_numpy() if values is not None else "",
        })
        part.index = picked.index
        self._parts.append(part)

    def add_rows(self, rows: list[tuple[int, str]], column: str) -> None:
        """Reject rows that never made it into the frame (e.g. ragged CSV rows), by row number."""
        if rows:
            part = pd.DataFrame({"file": self.file, "row": [r for r, _ in rows], "column": column,
                                 "reason": [why for _, why in rows], "value": ""})
            part.index = pd.Index([-1] * len(rows))
            self._parts.append(part)

    def rejected_index(self) -> pd.Index:
        """Index labels of the rows rejected so far."""
        if not self._parts:
            return pd.Index([])
        return pd.concat([p.index.to_series() for p in self._parts]).unique()

    def frame(self) -> pd.DataFrame:
        """All problems, ordered by row."""
        if not self._parts:
            return pd.DataFrame(columns=REJECT_COLUMNS)
        return pd.concat(self._parts).sort_values(["row", "column"], kind="stable").reset_index(drop=True)


def write(rejects: pd.DataFrame, path: Path) -> Path:
    """Write the rejects CSV (UTF-8, owner-only: rejected rows hold personal data, cells guarded); returns its path."""
    return write_private(path, csv_bytes(rejects[REJECT_COLUMNS]), overwrite=True)
