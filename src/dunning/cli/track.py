"""`dunning track import | payments | open` and `dunning report`: what was paid after the reminders."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from dunning import files, report, report_html, tracking
from dunning.cli.common import (
    load_settings, AsOfOpt, Command, Group, ConfigOption, FileArg, JsonOpt, PaymentsProfileOpt, ProfileOpt, SheetOpt, as_of_date, date_option, err, handles_input_errors, out,
    progress, report_rejects,
)
from dunning.cli.tables import Column, fitted
from dunning.money import to_major_string
from dunning.sources import loader, profiles

app = typer.Typer(cls=Group, help="Bring in what was paid after the reminders, and list who is still open.", no_args_is_help=True)


@app.command("import", cls=Command)
@handles_input_errors
def track_import(file: FileArg, profile: ProfileOpt = None, as_of: AsOfOpt = None, sheet: SheetOpt = None,
                 source: Annotated[Optional[list[str]], typer.Option("--source", metavar="NAME", help="Compare with the reminders recorded under this name (default: those that reminded the orders in the file).")] = None,
                 as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """A later export of the shop: the drop in each order's open amount is a payment, counted once.

    Library twin: dunning.tracking.import_export."""
    settings = load_settings(config_path)
    when = as_of_date(as_of)
    export = loader.read_orders(file, profiles.load(profile or settings.section("input").get("profile", "generic")).on_sheet(sheet))
    report_rejects(export, None, None, None, settings, when)
    imported = tracking.import_export(settings.store(), export, when, list(source) if source else None,
                                      settings.match_window_days)
    if as_json:
        sys.stdout.write(json.dumps({"drops": imported.payments, "left_list": imported.left_list, "review": imported.review}) + "\n")
        return
    out.print(f"{imported.payments} changes in what {file.name} says is paid (each matched to the payments the ledger "
              "knows; what they do not explain is paid to the shop directly)")
    if imported.review:
        out.print(f"{imported.review} to review: the export and the ledger disagree in a way no payment explains (dunning payments list)")
    if imported.left_list:
        out.print(f"{len(imported.left_list)} reminded orders left the list: paid or cancelled, the export cannot tell "
                  f"({', '.join(imported.left_list[:10])}{' ...' if len(imported.left_list) > 10 else ''})")


@app.command("payments", cls=Command)
@handles_input_errors
def track_payments(file: Annotated[Path, typer.Argument(help="Payments file (order_id, paid_at, amount, optional currency, payment_id).")],
                   payments_profile: PaymentsProfileOpt = None,
                   as_of: date_option("--as-of", "Today: later payment dates are refused.") = None,
                   as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """A payments file: stored once per payment id; unrelated and overpaying ones are flagged.

    Library twin: dunning.tracking.import_payments."""
    settings = load_settings(config_path)
    when = as_of_date(as_of)
    paid = loader.read_payments(file, profiles.load(payments_profile or settings.section("input").get("payments_profile", "generic")))
    imported = tracking.import_payments(settings.store(), paid, when, window=settings.match_window_days)
    paid.rejects = pd.concat([f for f in (paid.rejects, imported.rejected) if not f.empty]) if len(imported.rejected) else paid.rejects
    if as_json:
        sys.stdout.write(json.dumps({"new": imported.payments, "unrelated": imported.unrelated, "overpaid": imported.overpaid,
                                     "review": imported.review, "rejected": int(len(paid.rejects))}) + "\n")
    else:
        out.print(f"{imported.payments} new payments from {file.name}")
        if imported.unrelated:
            out.print(f"for orders the ledger does not know yet (kept, matched when the order arrives): {', '.join(imported.unrelated)}")
        if imported.review:
            out.print(f"{imported.review} to review: more than one payment in the ledger could be the same (dunning payments list)")
        if imported.overpaid:
            out.print(f"overpayment (more than was open): {', '.join(imported.overpaid)}")
    report_rejects(None, paid, None, None, settings, when)


@app.command("open", cls=Command)
@handles_input_errors
def track_open(as_of: AsOfOpt = None, as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """Orders that were reminded and still owe something (the ledger's balance): ready for the next stage."""
    settings = load_settings(config_path)
    store, when = settings.store(), as_of_date(as_of)
    rows = tracking.still_open(store, tracking.recovery(store, when), when)
    records = [{"order_id": r.order_id, "stage": r.stage, "reminded_on": r.as_of.date().isoformat(), "currency": r.currency,
                "still_open": to_major_string(int(r.still_open), r.currency), "days_overdue": int(r.days_overdue_now),
                "status": r.status} for r in rows.itertuples()]
    if as_json:
        sys.stdout.write(json.dumps(records) + "\n")
        return
    columns = [Column("order", keep=True), Column("still open", keep=True, right=True), Column("last stage"),
               Column("reminded on"), Column("days overdue", right=True), Column("paid so far")]
    out.print(fitted("Reminded and still open", columns, [
        [r["order_id"], f"{r['still_open']} {r['currency']}", r["stage"] or "-", r["reminded_on"], str(r["days_overdue"]),
         {"not": "nothing", "partly": "partly"}.get(r["status"], r["status"])] for r in records], out.width))


@handles_input_errors
def report_command(
    as_of: AsOfOpt = None,
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="Only the reminders of this campaign (an export hand-over is export:<file name>).")] = None,
    since: date_option("--since", "Only reminders sent on or after this date (the period).") = None,
    html_out: Annotated[Optional[Path], typer.Option("--html", help="Write a self-contained HTML report with charts.")] = None,
    language: Annotated[Optional[str], typer.Option("--lang", help="Language of the HTML report: nl, de, fr or en (default: the shop's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar=" ", help="Print every table as JSON.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """How much of what was reminded has been paid: the headline per currency, then by campaign, stage, reason,
    method and currency; notices before the due date and what you closed, apart.

    Library twin: dunning.gather_report, then dunning.html_report."""
    settings = load_settings(config_path)
    when = as_of_date(as_of)
    with progress() as bar:
        bar.add_task("computing recovery", total=None)
        made = report.gather(settings.store(), when, campaign, as_of_date(since, "--since") if since else None)
    if html_out is not None:
        page = report_html.render(made, language or settings.fallback_language, stage_labels=settings.stage_labels)
        files.write_private(html_out, page.encode("utf-8"), overwrite=True)
        err.print(f"report written to {html_out}")
    if as_json:
        sys.stdout.write(json.dumps({"headline": report.as_json({"h": made.headline})["h"]} | report.as_json(made.tables),
                                    ensure_ascii=False, default=str) + "\n")
        return
    headline = report.readable(made.headline)
    out.print(fitted("Headline", [Column("currency", keep=True), Column("recovered", keep=True, right=True),
                                  Column("rate", keep=True, right=True), Column("still open", keep=True, right=True),
                                  Column("reminded", right=True), Column("closed", right=True)],
                     [[h.currency, h.recovered, "-" if pd.isna(h.rate) else f"{float(h.rate) * 100:.1f}%",  # money-safe: a ratio
                       h.still_open, h.reminded, h.closed] for h in headline.itertuples()], out.width))
    for name, table in made.tables.items():
        readable = report.readable(table)
        readable = readable[[c for c in readable.columns if c in report.TERMINAL_COLUMNS or not c.endswith(report.DETAIL_SUFFIXES)]]
        keys = {"source", "stage", "reason", "payment_method", "currency", "amount_reminded", "amount_recovered", "still_open",
                "decision", "amount"}
        columns = [Column(c.replace("_", " "), keep=c in keys, right=c not in keys) for c in readable.columns]
        rows_text = [["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in row]
                     for row in readable.itertuples(index=False)]
        out.print(fitted(name.capitalize(), columns, rows_text, out.width))
