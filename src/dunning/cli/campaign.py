"""`dunning campaign list | prepare | preview | send`: reminders the merchant sends through a channel."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.panel import Panel
from rich.text import Text

from dunning import campaigns, files, sending, tokens
from dunning.channels import TemporaryFailure
from dunning.channels.select import channels_for
from dunning.cli.common import load_settings, Command, Group, AsOfOpt, ConfigOption, JsonOpt, as_of_date, date_option, err, handles_input_errors, out, progress
from dunning.cli.tables import Column, fitted
from dunning.report_texts import stage_words
from dunning.errors import InputError

app = typer.Typer(cls=Group, help="Prepare, preview and send reminder campaigns (campaigns/<name>.toml).", no_args_is_help=True)
CampaignArg = Annotated[str, typer.Argument(help="Campaign name (campaigns/<name>.toml) or a path to its TOML file.")]


@app.command("list", cls=Command)
@handles_input_errors
def campaign_list(as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """The campaigns of this workspace (campaigns/*.toml) and those prepared before, with how their reminders stand."""
    settings = load_settings(config_path)
    rows = campaigns.listed(settings, settings.store())
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    columns = [Column("campaign", keep=True), Column("stage", keep=True), Column("channel"), Column("prepared on"),
               Column("prepared", right=True), Column("sent", right=True), Column("failed", right=True)]
    out.print(fitted("Campaigns", columns, [[r["campaign"], r["stage"], r["channel"], r["prepared_on"] or "-", str(r.get("prepared", 0)),
                                            str(r.get("sent", 0)), str(r.get("failed", 0))] for r in rows], out.width))


@app.command("prepare", cls=Command)
@handles_input_errors
def campaign_prepare(name: CampaignArg, as_of: AsOfOpt = None, as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """Select the orders due for the campaign's stage, render every message, record the batch.

    Library twin: dunning.prepare."""
    settings = load_settings(config_path)
    campaign = campaigns.load(name, settings)
    with progress() as bar:
        step = bar.add_task("preparing", total=None)
        prepared = campaigns.prepare(campaign, settings, settings.store(), as_of_date(as_of), tokens.keys_from_env(),
                                     on_step=lambda text: bar.update(step, description=text))
    summary = {"campaign": campaign.name, "prepared": prepared.added, "already_reminded_at_this_stage": prepared.already_reminded,
               "at_another_stage": prepared.other_stage, "not_dunned": int(len(prepared.excluded)),
               "rejected_input_rows": int(prepared.rejects["row"].nunique()) if len(prepared.rejects) else 0,
               "unreachable": prepared.unreachable}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    out.print(f"{campaign.name}: {prepared.added} reminders prepared for stage {campaign.stage}"
              f" ({prepared.already_reminded} already reminded at this stage, {prepared.other_stage} at another stage,"
              f" {len(prepared.excluded)} not dunned)")
    for left_out in prepared.unreachable:
        out.print(f"left out: order {left_out['order_id']}: {left_out['reason']}")
    out.print(f"next: dunning campaign preview {campaign.name}, then dunning campaign send {campaign.name} --send")


@app.command("preview", cls=Command)
@handles_input_errors
def campaign_preview(name: CampaignArg,
                     count: Annotated[int, typer.Option(help="Messages shown in the terminal.")] = 3,
                     html_out: Annotated[Optional[Path], typer.Option("--html", help="Preview file (default: exports/<campaign>-preview.html).")] = None,
                     as_json: Annotated[bool, typer.Option("--json", metavar=" ", help="Print the messages as JSON instead.")] = False,
                     config_path: ConfigOption = None) -> None:
    """Show a few rendered messages and write an HTML preview of the whole batch."""
    settings = load_settings(config_path)
    campaign = campaigns.load(name, settings)
    store = settings.store()
    row = store.campaign(campaign.name)
    if row is None:
        raise InputError(f"campaign {campaign.name} is not prepared yet: run `dunning campaign prepare {campaign.name}`")
    rows = campaigns.messages(store.reminders_of(row.id))
    target = html_out or settings.exports_dir / f"{campaign.name}-preview.html"
    language = settings.fallback_language
    label = stage_words(language, settings.stage_labels).get(campaign.stage, campaign.stage)
    files.write_private(target, campaigns.preview_html(campaign, rows, language, label).encode("utf-8"), overwrite=True)
    if as_json:
        sys.stdout.write(json.dumps([{"order_id": r.order_id, "email": r.email, "language": r.language, "subject": r.subject,
                                      "text": r.body_text, "status": r.status} for r in rows], ensure_ascii=False) + "\n")
        return
    for reminder in rows[:count]:
        out.print(Panel(Text(reminder.body_text), title=Text(f"{reminder.email} · {reminder.subject}"),
                        subtitle=Text(reminder.status)), soft_wrap=False)
    out.print(f"{len(rows)} messages; preview written to {target}")


@app.command("send", cls=Command)
@handles_input_errors
def campaign_send(name: CampaignArg,
                  as_of: date_option("--as-of", "The date the reminders count as sent (default: today).") = None,
                  really: Annotated[bool, typer.Option("--send/--dry-run", metavar=" ", help="Send for real (default: a dry run that sends nothing).")] = False,
                  as_json: Annotated[bool, typer.Option("--json", metavar=" ", help="Print the summary as JSON.")] = False,
                  config_path: ConfigOption = None) -> None:
    """Send the prepared batch; a rerun after a crash resumes where it stopped.

    Library twin: dunning.send."""
    settings = load_settings(config_path)
    campaign = campaigns.load(name, settings)
    channel = channels_for(campaign, settings) if really else None
    with progress(bar=True, shown=really) as bar:
        task = bar.add_task(f"sending {campaign.name}", total=None)
        try:
            report = sending.send(campaign, settings.store(), channel, as_of=as_of_date(as_of), dry_run=not really,
                                  on_progress=lambda done, total: bar.update(task, completed=done, total=total))
        except TemporaryFailure as exc:
            err.print(Text("stopped: ", style="bold red") + Text(f"{exc}; nothing was lost: run the same command again to resume"))
            raise typer.Exit(1) from None
    summary = {"campaign": campaign.name, "dry_run": report.dry_run, "would_send": report.would_send, "sent": report.sent,
               "failed": report.failed, "resent_in_flight": report.resent_in_flight,
               "taken_by_another_sender": report.taken_by_another_sender,
               "failures": [{"order_id": o, "reason": r} for o, r in report.failures],
               "waiting": [{"order_id": o, "reason": r} for o, r in report.waiting]}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    elif report.dry_run:
        out.print(f"dry run: {report.would_send} reminders would be sent through {campaign.channel}; add --send to send them")
    else:
        out.print(f"{campaign.name}: {report.sent} sent, {report.failed} failed"
                  + (f", {len(report.waiting)} waiting for the next run" if report.waiting else "")
                  + (f", {report.taken_by_another_sender} being sent by another run" if report.taken_by_another_sender else ""))
        for order_id in report.resent_in_flight:
            out.print(f"  order {order_id} was in flight when the last run stopped and was sent again (it may arrive twice)")
        for order_id, reason in report.failures:
            out.print(f"  failed: order {order_id}: {reason}")
        for order_id, reason in report.waiting:
            out.print(f"  waiting: order {order_id}: {reason}")
    if report.failed:
        raise typer.Exit(1)
