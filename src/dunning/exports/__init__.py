"""CSV exports for newsletter tools, with the reminder template in each tool's merge-tag syntax."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dunning.exports import writer
from dunning.exports.dialects import DIALECTS, for_excel, get, with_attributes, with_field_ids
from dunning.exports.writer import ExportResult, Shop, default_path

__all__ = ["DIALECTS", "ExportResult", "Shop", "default_path", "write"]


def write(frame: pd.DataFrame, tool: str, path: str | Path, *, field_ids: dict[str, str] | None = None,
          attributes: dict[str, str] | None = None, excel_language: str | None = None, **options) -> ExportResult:
    """Write `frame` (overdue orders with links) for `tool` (with KlickTipp's field ids, Brevo's attribute names), or
    as Excel opens it in `excel_language`; see `dunning.exports.writer.write` for the options."""
    dialect = with_attributes(with_field_ids(get(tool), field_ids or {}), attributes or {})
    if excel_language:
        dialect = for_excel(dialect, excel_language)
    return writer.write(frame, dialect, Path(path), **options)
