"""`dunning overdue` and `dunning export`: who owes what, and the hand-over to a newsletter tool."""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from dunning import exports, handover, pipeline, present, tokens
from dunning.statements import booking
from dunning.cli.common import (
    load_settings, AsOfOpt, ConfigOption, CurrencyOpt, DryRunOpt, FileArg, GraceOpt, KindOpt, MethodOpt, MinAmountOpt, MinDaysOpt,
    PaymentsOpt, PaymentsProfileOpt, ProductOpt, ProfileOpt, RejectsOpt, SheetOpt, StageOpt, as_of_date, err, filters,
    handles_input_errors, out, progress, report_rejects, say_recorded,
)
from dunning.cli.tables import Column, fitted
from dunning.money import format_amount, to_major_string
from dunning.overdue import OverdueResult


def _find(settings, store, file, payments, profile, payments_profile, as_of, grace, kind, method, product, currency,
          stage, min_days, min_amount, sheet, db=None) -> pipeline.Found:
    """`pipeline.find_overdue` with the options as given (recording in `db` when given), showing progress on a terminal."""
    with progress() as bar:
        step = bar.add_task("reading", total=None)
        return pipeline.find_overdue(
            settings, store, file, as_of=as_of_date(as_of), payments=payments, profile=profile,
            payments_profile=payments_profile, grace=grace,
            filters=filters(kind, method, product, currency, stage, min_days, min_amount),
            on_step=lambda text: bar.update(step, description=text), sheet=sheet, db=db,
        )


@handles_input_errors
def overdue(
    file: FileArg, payments: PaymentsOpt = None, profile: ProfileOpt = None, payments_profile: PaymentsProfileOpt = None,
    as_of: AsOfOpt = None, grace: GraceOpt = None, kind: KindOpt = None, method: MethodOpt = None,
    product: ProductOpt = None, currency: CurrencyOpt = None, stage: StageOpt = None, min_days: MinDaysOpt = 0,
    min_amount: MinAmountOpt = None, sheet: SheetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", metavar=" ", help="Print a JSON array instead of a table.")] = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Also write the rows to this CSV file (and the orders not dunned, with why, next to it).")] = None,
    force: Annotated[bool, typer.Option("--force", metavar=" ", help="Replace an existing --csv file.")] = False,
    not_dunned: Annotated[bool, typer.Option("--not-dunned", metavar=" ", help="List the overdue orders that are not dunned, with why, instead.")] = False,
    excel: Annotated[bool, typer.Option("--excel", metavar=" ", help="Write --csv as Excel opens it in the shop's language (byte-order mark, list separator).")] = False,
    rejects_out: RejectsOpt = None,
    show: Annotated[int, typer.Option(help="Rows shown in the terminal table (totals always cover all).")] = 50,
    dry_run: DryRunOpt = False,
    config_path: ConfigOption = None,
) -> None:
    """Who owes what, since when, and which reminder stage is due next (judged with the ledger).

    Library twin: dunning.find_overdue, then dunning.add_links and dunning.record."""
    settings = load_settings(config_path)
    store = settings.store()
    find = functools.partial(_find, settings, store, file, payments, profile, payments_profile, as_of, grace, kind, method,
                             product, currency, stage, min_days, min_amount, sheet)
    if dry_run:
        found = find()
        report_rejects(found.export, found.payments, rejects_out, csv_out, settings, found.as_of)
        err.print("dry run: nothing was recorded in the ledger")
    else:
        with store.writing() as db:  # what the run learns is written as it is judged, a partition of orders at a time
            found = find(db=db)
            report_rejects(found.export, found.payments, rejects_out, csv_out, settings, found.as_of)
            booking.rematch(store, db, found.as_of, settings.match_window_days)
        say_recorded(found.recorded)
    keys = tokens.keys_from_env()
    if keys:
        frame = tokens.add_links(found.result.orders, settings.signer(keys), settings.link_template)
    else:
        err.print(f"note: {tokens.KEYS_VARIABLE} is not set, so token and manage_url are left empty")
        frame = found.result.orders
    excluded = found.result.excluded
    if csv_out is not None:
        excel_language = settings.fallback_language if excel else None
        present.write_csv(frame, csv_out, overwrite=force, excel_language=excel_language)
        aside = csv_out.with_name(csv_out.stem + ".not-dunned.csv")
        present.write_csv(excluded, aside, overwrite=True, excel_language=excel_language)
        err.print(f"wrote {len(frame)} rows to {csv_out}, and {len(excluded)} overdue orders not dunned (with why) to {aside}")
    if as_json:
        records = present.records(excluded if not_dunned else frame)
        rows = [{k: present.json_ready(v) for k, v in r.items()} for r in records.to_dict("records")]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    elif not_dunned:
        _print_not_dunned(excluded, show)
    else:
        _print_overdue(frame, found.result, settings.fallback_language, show)


@handles_input_errors
def export_command(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", metavar=f"<{'|'.join(exports.DIALECTS)}>",
                                    autocompletion=lambda incomplete: [d for d in exports.DIALECTS if d.startswith(incomplete)],
                                    help="Newsletter tool (or one a plugin registers).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="CSV path (default: exports/<tool>-<date>-<filters>.csv).")] = None,
    force: Annotated[bool, typer.Option("--force", metavar=" ", help="Replace an existing file given with -o.")] = False,
    encoding: Annotated[Optional[str], typer.Option("--encoding", help="Override the tool's encoding (e.g. utf-8).")] = None,
    payments: PaymentsOpt = None, profile: ProfileOpt = None, payments_profile: PaymentsProfileOpt = None,
    as_of: AsOfOpt = None, grace: GraceOpt = None, kind: KindOpt = None, method: MethodOpt = None,
    product: ProductOpt = None, currency: CurrencyOpt = None, stage: StageOpt = None, min_days: MinDaysOpt = 0,
    min_amount: MinAmountOpt = None, rejects_out: RejectsOpt = None, sheet: SheetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", metavar=" ", help="Print what was written as JSON.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar=" ", help="Say what would be handed over; write and record nothing.")] = False,
    no_record: Annotated[bool, typer.Option("--no-record", metavar=" ", help="Write the file but record no hand-over (a test import, not for sending).")] = False,
    excel: Annotated[bool, typer.Option("--excel", metavar=" ", help="Write the file as Excel opens it in the shop's language (byte-order mark, list separator).")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Write the orders due for a reminder as a CSV for a newsletter tool, with the reminder template in its
    merge tags, and record the hand-over in the ledger (each row counts as a reminder sent on the as-of date).

    Library twin: dunning.export."""
    dialect = exports.get(to)
    settings = load_settings(config_path)
    tokens.require_keys(tokens.keys_from_env())
    store = settings.store()
    find = functools.partial(_find, settings, store, file, payments, profile, payments_profile, as_of, grace, kind, method,
                             product, currency, stage, min_days, min_amount, sheet)
    if dry_run:
        found = find()
        report_rejects(found.export, found.payments, rejects_out, output, settings, found.as_of)
        due = found.result.orders[found.result.orders["stage"] != ""]
        out.print(f"dry run: {len(due)} orders would be handed to {dialect.title}; nothing was written or recorded")
        return

    def found_in(db):
        found = find(db=db)
        report_rejects(found.export, found.payments, rejects_out, output, settings, found.as_of)
        return found

    done = handover.export(settings, store, found_in, dialect.name, output, encoding=encoding, overwrite=force,
                           record=not no_record, excel=excel)
    found = done.found
    say_recorded(done.recorded)
    if no_record:
        err.print("not recorded: the ledger does not know of these reminders; send them only from a file written without --no-record")
    else:
        err.print(f"ledger: {done.reminders} reminders recorded as handed to {dialect.title} on {found.as_of.isoformat()}")
    written = done.written
    if as_json:
        summary = {
            "tool": dialect.name, "csv": str(written.csv_path), "rows": written.rows, "manifest": str(written.manifest_path),
            "templates": [str(p) for p in written.template_paths], "rejected": len(written.rejects),
            "rejects": str(written.rejects_path) if written.rejects_path else None,
            "left_out_without_stage": written.without_stage, "held_for_the_next_export": written.held_back,
            "cells_clipped": written.clipped_cells, "totals": written.totals,
            "reminders_recorded": done.reminders,
        }
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    _print_export(written, dialect)


def _print_export(written: exports.ExportResult, dialect) -> None:
    out.print(f"wrote {written.rows} rows for {dialect.title} to {written.csv_path} (readable by you only)")
    for total in written.totals:
        plural = "" if total["orders"] == 1 else "s"
        out.print(f"  {total['currency']}: {total['orders']} order{plural}, {total['open_amount']} open")
    out.print(f"templates: {', '.join(p.name for p in written.template_paths)}")
    out.print(f"manifest: {written.manifest_path}")
    if len(written.rejects):
        out.print(f"left out: {len(written.rejects)} rows {dialect.title} cannot take as they are (not recorded as "
                  f"reminded; {written.rejects_path} says why, row by row)")
    if written.without_stage:
        out.print(f"left out: {written.without_stage} overdue orders not yet at the first reminder stage")
    if written.held_back:
        out.print(f"held for the next export: {', '.join(written.held_back)} ({dialect.title} keeps one contact per address, "
                  "and another order of the same address is in this file; not recorded as reminded)")
    if written.clipped_cells:
        limit = f"{dialect.max_text_bytes} bytes" if dialect.max_text_bytes else f"{dialect.max_text_chars} characters"
        out.print(f"note: {written.clipped_cells} cells were shortened to {dialect.title}'s limit of {limit}")


def _print_overdue(frame: pd.DataFrame, result: OverdueResult, locale: str, show: int) -> None:
    columns = [Column("order", keep=True), Column("open", keep=True, right=True), Column("days", keep=True, right=True),
               Column("stage"), Column("customer"), Column("paid", right=True), Column("oldest due"), Column("reason"),
               Column("product")]
    rows = [[r.order_id, format_amount(r.open_amount, r.currency, locale), str(r.days_overdue), r.stage or "-",
             f"{r.first_name} {r.last_name}".strip(), format_amount(r.paid_amount, r.currency, locale),
             r.oldest_due_date.isoformat(), r.reason, r.product_name] for r in frame.head(show).itertuples()]
    out.print(fitted(f"Overdue as of {result.as_of.isoformat()}", columns, rows, out.width))
    if len(frame) > show:
        out.print(f"... and {len(frame) - show:,} more orders (--csv or --json gives them all)")
    for total in result.totals().itertuples():
        out.print(f"{total.currency}: {total.orders} order{'' if total.orders == 1 else 's'}, "
                  f"{format_amount(total.open_amount, total.currency, locale)} open"
                  + (f", fees {format_amount(total.fees, total.currency, locale)}" if total.fees else ""))
    if not result.excluded.empty:
        counts = result.excluded["why"].value_counts()
        out.print("not dunned: " + "; ".join(f"{why} ({n})" for why, n in counts.items()) + " (--not-dunned lists them)")
    for stage, n in result.notices["stage"].value_counts(sort=False).items():
        out.print(f"due soon: {n} order{'' if n == 1 else 's'} with an installment falling due, for the notice {stage} "
                  f"(a campaign of stage {stage}, or export --stage {stage})")
    known = frame[frame["ledger_paid"] > 0]
    if len(known):
        out.print(f"{len(known)} orders have payments in the ledger that the export does not show yet: "
                  + ", ".join(f"{r.order_id} {format_amount(r.ledger_paid, r.currency, locale)}" for r in known.head(10).itertuples()))
    if not result.unmatched_payments.empty:
        out.print(f"payments not applied: {len(result.unmatched_payments)} (no such order or another currency)")


def _print_not_dunned(excluded: pd.DataFrame, show: int) -> None:
    columns = [Column("order", keep=True), Column("open", keep=True, right=True), Column("days", right=True),
               Column("why not dunned")]
    rows = [[r.order_id, f"{to_major_string(int(r.open_amount), r.currency)} {r.currency}", str(r.days_overdue), r.why]
            for r in excluded.head(show).itertuples()]
    out.print(fitted("Overdue, not dunned", columns, rows, out.width))
    if len(excluded) > show:
        out.print(f"... and {len(excluded) - show:,} more (--json or --csv gives them all)")
