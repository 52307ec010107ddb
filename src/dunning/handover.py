"""The marketer's route: the orders due for a reminder as a newsletter tool's CSV, recorded as handed over.

Every row of the file counts as a reminder of its stage sent on the as-of date through that tool,
so the cooldown, the next stage and the recovery report know of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from dunning import exports, pipeline, reminders, tokens
from dunning.config import Settings
from dunning.journal import queue, recording
from dunning.journal.store import Store
from dunning.statements import booking

HAND_OVER_SLICE = 20_000  # reminders built and inserted at a time


@dataclass
class HandOver:
    """What an export wrote and recorded."""

    written: exports.ExportResult
    recorded: recording.Plan
    reminders: int


def export(settings: Settings, store: Store, found: pipeline.Found, tool: str, path: Path | None = None, *,
           encoding: str | None = None, overwrite: bool = False, record: bool = True, excel: bool = False) -> HandOver:
    """Sign the links, write the tool's CSV with its templates and manifest, then record what the run learnt and
    (unless `record` is off: a test import) the hand-over, in one transaction; the files get their names only once
    it committed."""
    dialect = exports.get(tool)
    linked = tokens.add_links(found.at_stage(found.filters.stages), settings.signer(), settings.link_template)
    described = found.filters.describe()
    words = [f"{k}-{'-'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in described.items()]
    sources = [str(found.export.path)] + ([str(found.payments.path)] if found.payments else [])
    written = exports.write(
        linked, dialect.name, path or exports.default_path(settings.exports_dir, dialect.name, found.as_of, words),
        as_of=found.as_of, policy=settings.policy,
        shop=exports.Shop(str(settings.shop.get("name", "")), str(settings.shop.get("contact", "")),
                          str(settings.shop.get("address", ""))),
        templates=settings.templates(), fallback_language=settings.fallback_language, filters=described,
        sources=sources, encoding=encoding, overwrite=overwrite,
        field_ids=settings.section("exports").get("klicktipp_field_ids", {}) if dialect.name == "klicktipp" else None,
        attributes=settings.section("exports").get("brevo_attributes", {}) if dialect.name == "brevo" else None,
        excel_language=settings.fallback_language if excel else None, pending=True,
    )
    try:
        with store.writing() as db:
            recorded = pipeline.record(found, store, db)
            booking.rematch(store, db, found.as_of, settings.match_window_days)
            handed = hand_over(db, linked, written, tool=dialect.name, as_of=found.as_of) if record else 0
    except BaseException:
        written.discard()
        raise
    written.commit()
    return HandOver(written, recorded, handed)


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
                   for o, v in zip(rows.iloc[part].to_dict("records"), carried.iloc[part].to_dict("records"))]
        added += queue.insert_reminders(db, campaign_id, records, handed_over_on=as_of)
    if added:
        queue.charge_campaign(db, campaign_id)
    return added
