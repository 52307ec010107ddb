"""The marketer's route: the orders due for a reminder as a newsletter tool's CSV, recorded as handed over.

Every row of the file counts as a reminder of its stage sent on the as-of date through that tool,
so the cooldown, the next stage and the recovery report know of it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from dunning import exports, pipeline, reminders, tokens
from dunning.config import Settings
from dunning.journal import queue
from dunning.journal.store import Store
from dunning.statements import booking

HAND_OVER_SLICE = 20_000  # reminders built and inserted at a time


@dataclass
class HandOver:
    """What an export found, wrote and recorded."""

    found: pipeline.Found
    written: exports.ExportResult
    recorded: pipeline.Recorded
    reminders: int


def export(settings: Settings, store: Store, found: pipeline.Found | Callable[[sa.Connection], pipeline.Found], tool: str,
           path: Path | None = None, *, encoding: str | None = None, overwrite: bool = False, record: bool = True,
           excel: bool = False) -> HandOver:
    """In one transaction: find the run (`found` is a run found already, or how to find it inside this transaction,
    recording it as it goes), sign the links, write the tool's CSV with its templates and manifest, record what the
    run learnt and (unless `record` is off: a test import) the hand-over; the files get their names only once it
    committed."""
    dialect = exports.get(tool)
    written = None
    try:
        with store.writing() as db:
            if callable(found):
                found = found(db)
            written = _written(settings, found, dialect.name, path, encoding, overwrite, excel)
            recorded = pipeline.record(found, store, db)
            booking.rematch(store, db, found.as_of, settings.match_window_days)
            handed = hand_over(db, written.linked, written.result, tool=dialect.name, as_of=found.as_of) if record else 0
    except BaseException:
        if written is not None:
            written.result.discard()
        raise
    written.result.commit()
    return HandOver(found, written.result, recorded, handed)


@dataclass
class _Written:
    linked: pd.DataFrame
    result: exports.ExportResult


def _written(settings: Settings, found: pipeline.Found, tool: str, path: Path | None, encoding: str | None, overwrite: bool,
             excel: bool) -> _Written:
    """The orders at their stage with signed links, written to the tool's files under a name taken only at commit."""
    linked = tokens.add_links(found.at_stage(found.filters.stages), settings.signer(), settings.link_template)
    described = found.filters.describe()
    words = [f"{k}-{'-'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in described.items()]
    sources = [str(found.export.path)] + ([str(found.payments.path)] if found.payments else [])
    return _Written(linked, exports.write(
        linked, tool, path or exports.default_path(settings.exports_dir, tool, found.as_of, words),
        as_of=found.as_of, policy=settings.policy,
        shop=exports.Shop(str(settings.shop.get("name", "")), str(settings.shop.get("contact", "")),
                          str(settings.shop.get("address", ""))),
        templates=settings.templates(), fallback_language=settings.fallback_language, filters=described,
        sources=sources, encoding=encoding, overwrite=overwrite,
        field_ids=settings.section("exports").get("klicktipp_field_ids", {}) if tool == "klicktipp" else None,
        attributes=settings.section("exports").get("brevo_attributes", {}) if tool == "brevo" else None,
        excel_language=settings.fallback_language if excel else None, pending=True,
    ))


def hand_over(db: sa.Connection, linked: pd.DataFrame, written: exports.ExportResult, *, tool: str, as_of: date) -> int:
    """Record the rows of an export file as reminders handed to a newsletter tool, sent on `as_of`, with the
    values the file carried, and the orders a row stands for besides its own (in the caller's transaction). Returns
    how many."""
    if written.values.empty:
        return 0
    rows = pd.concat([linked.loc[written.values.index], linked.loc[written.riding.index].assign(fee=0)])  # one fee per row
    carried = pd.concat([written.values, written.riding]) if len(written.riding) else written.values
    path = written.csv_path
    name = f"export:{path.name}"
    stages = ",".join(sorted(set(rows["stage"])))
    campaign_id = queue.create_campaign(db, name, stages[:50], f"export:{tool}", as_of, str(path))
    added = 0
    for start in range(0, len(rows), HAND_OVER_SLICE):  # a slice at a time: a reminder's dicts are many times its row
        part = slice(start, start + HAND_OVER_SLICE)
        records = [reminders.row(o, v) | {"subject": "", "body_text": "", "body_html": "", "message_id": path.name}
                   for o, v in zip(reminders.records(rows.iloc[part], reminders.ORDER_COLUMNS),
                                   reminders.records(carried.iloc[part], reminders.VALUE_COLUMNS))]
        added += queue.insert_reminders(db, campaign_id, records, handed_over_on=as_of)
    if added:
        queue.charge_campaign(db, campaign_id)
    return added
