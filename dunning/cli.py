"""The `dunning` command: parses options, calls the library, prints."""
from __future__ import annotations

import functools
import json
import os
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional

import click
import pandas as pd
import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from dunning import campaigns, config, exports, files, pipeline, present, reminders, report, sending, tokens, tracking
from dunning.channels import TemporaryFailure
from dunning.channels.select import channel_for
from dunning.errors import InputError
from dunning.mailmerge import Templates
from dunning.money import format_amount, to_major_string
from dunning.overdue import Filters, OverdueResult
from dunning.sources import loader, profiles, rejects
from dunning.store import Store
from dunning.store import url_for as store_url

app = typer.Typer(
    help="Find overdue subscription and installment payments and remind the customers.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
token_app = typer.Typer(help="Sign and verify per-order manage tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
# User text (names, file contents, messages) is printed as it is: no markup, no highlighting.
out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

DEBUG_VARIABLE = "DUNNING_DEBUG"
ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="Settings file (default: ./dunning.toml).")]


def handles_input_errors(command):
    """Bad input ends in one sentence on stderr and exit code 2; anything unforeseen in one sentence and exit
    code 1 (DUNNING_DEBUG=1 shows the traceback): a user never gets a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            err.print(Text("error: ", style="bold red") + Text(str(exc)))
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            err.print(Text("internal error: ", style="bold red")
                      + Text(f"{type(exc).__name__}: {exc}. This is a fault of dunning, not of your input: "
                             f"please report it, with the output of the same command run with {DEBUG_VARIABLE}=1."))
            raise typer.Exit(1) from None

    return wrapper


def _parse_as_of(value: Optional[str]) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not a date (write it as YYYY-MM-DD)") from None


def _parse_amount(value: Optional[str]) -> Optional[Decimal]:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise InputError(f"--min-amount {value!r} is not an amount (write it like 50 or 49.90)") from None


@app.command()
@handles_input_errors
def init(folder: Annotated[Path, typer.Argument(help="Workspace folder.")] = Path(".")) -> None:
    """Write a commented dunning.toml with every setting and its default, plus the workspace folders."""
    created = config.init(folder)
    for path in created:
        out.print(f"created {path}")
    if not created:
        out.print(f"{folder} is already a dunning workspace; nothing changed")


@app.command("profiles")
@handles_input_errors
def list_profiles(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the built-in export profiles."""
    rows = [(name, profiles.load(name).description) for name in profiles.builtin_names()]
    if as_json:
        out.print_json(json.dumps([{"name": n, "description": d} for n, d in rows]))
        return
    table = Table("profile", "reads")
    for name, description in rows:
        table.add_row(name, description)
    out.print(table)


FileArg = Annotated[Path, typer.Argument(help="Order export: CSV, XLSX or Parquet.")]
PaymentsOpt = Annotated[Optional[Path], typer.Option("--payments", help="Payments file (order_id, paid_at, amount).")]
ProfileOpt = Annotated[Optional[str], typer.Option("--profile", help="Profile name or TOML path for the export.")]
PaymentsProfileOpt = Annotated[Optional[str], typer.Option("--payments-profile", help="Profile for the payments file.")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="Date to judge by, YYYY-MM-DD (default: today).")]
GraceOpt = Annotated[Optional[int], typer.Option("--grace", help="Grace days (default: policy.grace_days).")]
KindOpt = Annotated[Optional[list[str]], typer.Option("--kind", help="Only this kind: subscription, installment, one_time.")]
MethodOpt = Annotated[Optional[list[str]], typer.Option("--method", help="Only this payment method.")]
ProductOpt = Annotated[Optional[list[str]], typer.Option("--product", help="Only products whose name contains this.")]
CurrencyOpt = Annotated[Optional[list[str]], typer.Option("--currency", help="Only this currency.")]
StageOpt = Annotated[Optional[list[str]], typer.Option("--stage", help="Only this stage (e.g. friendly, second, final).")]
MinDaysOpt = Annotated[int, typer.Option("--min-days", help="Only orders at least this many days overdue.")]
MinAmountOpt = Annotated[Optional[str], typer.Option("--min-amount", help="Only open amounts of at least this much (major units).")]
RejectsOpt = Annotated[Optional[Path], typer.Option("--rejects", help="Where to write rejected input rows.")]


def _filters(kind, method, product, currency, stage, min_days, min_amount) -> Filters:
    return Filters(
        kinds=tuple(kind or ()), payment_methods=tuple(method or ()), products=tuple(product or ()),
        currencies=tuple(c.upper() for c in currency or ()), stages=tuple(stage or ()),
        min_days=min_days, min_amount=_parse_amount(min_amount),
    )


def _find(settings: config.Settings, store: Store, file: Path, payments: Optional[Path], profile: Optional[str],
          payments_profile: Optional[str], when: date, grace: Optional[int], filters: Filters) -> pipeline.Found:
    """Read the export (and payments) and find the overdue orders with the ledger, showing progress on a terminal."""
    with _progress() as progress:
        step = progress.add_task("reading", total=None)
        return pipeline.find_overdue(
            settings, store, file, as_of=when, payments=payments, profile=profile, payments_profile=payments_profile,
            grace=grace, filters=filters, on_step=lambda text: progress.update(step, description=text),
        )


DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="A look that records nothing in the ledger.")]


def _say_recorded(recorded) -> None:
    """What a run added to the ledger, on stderr."""
    parts = [f"{recorded.payments} new payments from the file"] if recorded.payments else []
    parts += [f"{recorded.drops} payments the export shows (drops in open amount)"] if recorded.drops else []
    parts += [f"{recorded.new_orders} new orders with a link"] if recorded.new_orders else []
    if parts:
        err.print("ledger: " + ", ".join(parts), highlight=False)


@app.command()
@handles_input_errors
def overdue(
    file: FileArg, payments: PaymentsOpt = None, profile: ProfileOpt = None, payments_profile: PaymentsProfileOpt = None,
    as_of: AsOfOpt = None, grace: GraceOpt = None, kind: KindOpt = None, method: MethodOpt = None,
    product: ProductOpt = None, currency: CurrencyOpt = None, stage: StageOpt = None, min_days: MinDaysOpt = 0,
    min_amount: MinAmountOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Also write the rows to this CSV file (and the orders not dunned, with why, next to it).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --csv file.")] = False,
    not_dunned: Annotated[bool, typer.Option("--not-dunned", help="List the overdue orders that are not dunned, with why, instead.")] = False,
    rejects_out: RejectsOpt = None,
    show: Annotated[int, typer.Option(help="Rows shown in the terminal table (totals always cover all).")] = 50,
    dry_run: DryRunOpt = False,
    config_path: ConfigOption = None,
) -> None:
    """Who owes what, since when, and which reminder stage is due next (judged with the ledger)."""
    settings = config.load(config_path)
    when = _parse_as_of(as_of)
    filters = _filters(kind, method, product, currency, stage, min_days, min_amount)
    store = _campaign_store(settings)
    found = _find(settings, store, file, payments, profile, payments_profile, when, grace, filters)
    keys = tokens.keys_from_env()
    if keys:
        frame = tokens.add_links(found.result.orders, _signer(settings, keys), _link_template(settings))
    else:
        err.print(f"note: {tokens.KEYS_VARIABLE} is not set, so token and manage_url are left empty")
        frame = found.result.orders
    _report_rejects(found.export, found.payments, rejects_out, csv_out, settings, when)
    if dry_run:
        err.print("dry run: nothing was recorded in the ledger")
    else:
        _say_recorded(pipeline.record(found, store, frame if keys else None))
    excluded = found.result.excluded
    if csv_out is not None:
        present.write_csv(frame, csv_out, overwrite=force)
        aside = csv_out.with_name(csv_out.stem + ".not-dunned.csv")
        present.write_csv(excluded, aside, overwrite=True)
        err.print(f"wrote {len(frame)} rows to {csv_out}, and {len(excluded)} overdue orders not dunned (with why) to {aside}")
    if as_json:
        records = present.records(excluded if not_dunned else frame)
        rows = [{k: present.json_ready(v) for k, v in r.items()} for r in records.to_dict("records")]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    elif not_dunned:
        _print_not_dunned(excluded, show)
    else:
        _print_overdue(frame, found.result, settings, show)


@app.command("export")
@handles_input_errors
def export_command(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", help=f"Newsletter tool: {', '.join(exports.DIALECTS)}.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="CSV path (default: exports/<tool>-<date>-<filters>.csv).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file given with -o.")] = False,
    encoding: Annotated[Optional[str], typer.Option("--encoding", help="Override the tool's encoding (e.g. utf-8).")] = None,
    payments: PaymentsOpt = None, profile: ProfileOpt = None, payments_profile: PaymentsProfileOpt = None,
    as_of: AsOfOpt = None, grace: GraceOpt = None, kind: KindOpt = None, method: MethodOpt = None,
    product: ProductOpt = None, currency: CurrencyOpt = None, stage: StageOpt = None, min_days: MinDaysOpt = 0,
    min_amount: MinAmountOpt = None, rejects_out: RejectsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be handed over; write and record nothing.")] = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Write the file but record no hand-over (a test import, not for sending).")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Write the orders due for a reminder as a CSV for a newsletter tool, with the reminder template in its
    merge tags, and record the hand-over in the ledger (each row counts as a reminder sent on the as-of date)."""
    dialect = exports.get(to)
    settings, signer = _keyed(config_path)
    when = _parse_as_of(as_of)
    filters = _filters(kind, method, product, currency, stage, min_days, min_amount)
    store = _campaign_store(settings)
    found = _find(settings, store, file, payments, profile, payments_profile, when, grace, filters)
    _report_rejects(found.export, found.payments, rejects_out, output, settings, when)
    if dry_run:
        due = found.result.orders[found.result.orders["stage"] != ""]
        out.print(f"dry run: {len(due)} orders would be handed to {dialect.title}; nothing was written or recorded", highlight=False)
        return
    frame = tokens.add_links(found.result.orders, signer, _link_template(settings))
    _say_recorded(pipeline.record(found, store, frame))
    described = filters.describe()
    words = [f"{k}-{'-'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in described.items()]
    path = output or exports.default_path(settings.exports_dir, dialect.name, when, words)
    shop = settings.section("shop")
    written = exports.write(
        frame, dialect.name, path, as_of=when, policy=settings.policy,
        shop=exports.Shop(str(shop.get("name", "")), str(shop.get("contact", ""))),
        templates=Templates(settings.root / "templates", settings.fallback_language),
        fallback_language=settings.fallback_language, filters=described,
        sources=[str(file)] + ([str(payments)] if payments else []), encoding=encoding, overwrite=force,
        field_ids=settings.section("exports").get("klicktipp_field_ids", {}) if dialect.name == "klicktipp" else None,
    )
    handed = 0
    if no_record:
        err.print("not recorded: the ledger does not know of these reminders; send them only from a file written without --no-record")
    else:
        handed = reminders.hand_over(store, frame, written.order_ids, tool=dialect.name, path=written.csv_path, as_of=when,
                                     fallback_language=settings.fallback_language)
        err.print(f"ledger: {handed} reminders recorded as handed to {dialect.title} on {when.isoformat()}", highlight=False)
    if as_json:
        summary = {
            "tool": dialect.name, "csv": str(written.csv_path), "rows": written.rows, "manifest": str(written.manifest_path),
            "templates": [str(p) for p in written.template_paths], "rejected": len(written.rejects),
            "rejects": str(written.rejects_path) if written.rejects_path else None,
            "left_out_without_stage": written.without_stage, "cells_clipped": written.clipped_cells, "totals": written.totals,
            "reminders_recorded": handed,
        }
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    _print_export(written, dialect)


def _print_export(written: exports.ExportResult, dialect) -> None:
    out.print(f"wrote {written.rows} rows for {dialect.title} to {written.csv_path} (readable by you only)", highlight=False)
    for total in written.totals:
        plural = "" if total["orders"] == 1 else "s"
        out.print(f"  {total['currency']}: {total['orders']} order{plural}, {total['open_amount']} open", highlight=False)
    out.print(f"templates: {', '.join(p.name for p in written.template_paths)}", highlight=False)
    out.print(f"manifest: {written.manifest_path}", highlight=False)
    if len(written.rejects):
        out.print(f"left out: {len(written.rejects)} rows without a usable e-mail address or with characters "
                  f"the file cannot hold (see {written.rejects_path})", highlight=False)
    if written.without_stage:
        out.print(f"left out: {written.without_stage} overdue orders not yet at the first reminder stage", highlight=False)
    if written.clipped_cells:
        out.print(f"note: {written.clipped_cells} cells were shortened to {dialect.title}'s limit of "
                  f"{dialect.max_text_bytes} bytes", highlight=False)


def _keyed(config_path: Optional[Path]) -> tuple[config.Settings, tokens.TokenSigner]:
    """Settings and a signer, for commands that hand out links: they refuse without a key."""
    keys = tokens.keys_from_env()
    tokens.require_keys(keys)
    settings = config.load(config_path)
    return settings, _signer(settings, keys)


def _signer(settings: config.Settings, keys: list[str]) -> tokens.TokenSigner:
    days = int(settings.section("links").get("token_max_age_days", 45))
    return tokens.TokenSigner(keys, max_age=timedelta(days=days))


def _link_template(settings: config.Settings) -> str:
    return str(settings.section("links").get("manage_url"))


def _report_rejects(export, paid, rejects_out, csv_out, settings, when) -> None:
    """Rows read, accepted and rejected per input file; rejected rows listed and written to a rejects CSV."""
    sources = [source for source in (export, paid) if source is not None]
    err.print("; ".join(f"{s.path.name}: {s.rows_in} rows, {s.rows_accepted} accepted, {s.rows_rejected} rejected" for s in sources))
    for note in getattr(export, "notes", []):
        err.print(f"note: {export.path.name}: {note}")
    frames = [s.rejects for s in sources if not s.rejects.empty]
    if not frames:
        return
    problems = pd.concat(frames)
    if rejects_out is None:
        base = csv_out.with_suffix("") if csv_out else settings.exports_dir / f"{sources[0].path.stem}-{when.isoformat()}"
        rejects_out = Path(f"{base}.rejects.csv")
    rejects.write(problems, rejects_out)
    for row in problems.head(10).itertuples():
        err.print(f"  {Path(row.file).name} row {row.row}, {row.column}: {row.reason}" + (f" ({row.value!r})" if row.value else ""), highlight=False)
    if len(problems) > 10:
        err.print(f"  ... and {len(problems) - 10} more")
    err.print(f"rejected rows written to {rejects_out}")


def _print_overdue(frame: pd.DataFrame, result: OverdueResult, settings: config.Settings, show: int) -> None:
    locale = settings.fallback_language
    table = Table(title=f"Overdue as of {result.as_of.isoformat()}")
    for name in ("order", "customer", "product", "open", "paid", "oldest due", "days", "stage", "reason"):
        table.add_column(name, justify="right" if name in ("open", "paid", "days") else "left")
    for row in frame.head(show).itertuples():
        table.add_row(
            row.order_id, f"{row.first_name} {row.last_name}".strip() + f"\n{row.email}", row.product_name,
            format_amount(row.open_amount, row.currency, locale), format_amount(row.paid_amount, row.currency, locale),
            row.oldest_due_date.isoformat(), str(row.days_overdue), row.stage or "-", row.reason,
        )
    out.print(table)
    if len(frame) > show:
        out.print(f"... and {len(frame) - show:,} more orders (--csv or --json gives them all)")
    for total in result.totals().itertuples():
        out.print(f"{total.currency}: {total.orders} order{'' if total.orders == 1 else 's'}, {format_amount(total.open_amount, total.currency, locale)} open"
                  + (f", fees {format_amount(total.fees, total.currency, locale)}" if total.fees else ""))
    if not result.excluded.empty:
        counts = result.excluded["why"].value_counts()
        out.print("not dunned: " + "; ".join(f"{n} {why}" for why, n in counts.items()) + " (--not-dunned lists them)")
    known = frame[frame["ledger_paid"] > 0]
    if len(known):
        out.print(f"{len(known)} orders have payments in the ledger that the export does not show yet: "
                  + ", ".join(f"{r.order_id} {format_amount(r.ledger_paid, r.currency, locale)}" for r in known.head(10).itertuples()),
                  highlight=False)
    if not result.unmatched_payments.empty:
        out.print(f"payments not applied: {len(result.unmatched_payments)} (no such order or another currency)")


def _print_not_dunned(excluded: pd.DataFrame, show: int) -> None:
    table = Table("order", "open", "days", "why not dunned", title="Overdue, not dunned")
    for row in excluded.head(show).itertuples():
        table.add_row(row.order_id, f"{to_major_string(int(row.open_amount), row.currency)} {row.currency}",
                      str(row.days_overdue), row.why)
    out.print(table)
    if len(excluded) > show:
        out.print(f"... and {len(excluded) - show:,} more (--json or --csv gives them all)")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )


@token_app.command("sign")
@handles_input_errors
def token_sign(
    order_id: Annotated[str, typer.Argument(help="The order to sign a token for.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Print a manage token and link for one order the ledger holds (so the link opens its page)."""
    settings, signer = _keyed(config_path)
    if _campaign_store(settings).order(order_id) is None:
        raise InputError(f"order {order_id} is not in the ledger, so its link would open nothing: "
                         "read the export that holds it first (dunning overdue <export>)")
    issued = datetime.now(timezone.utc).replace(microsecond=0)
    token = signer.sign(order_id, issued)
    url = tokens.manage_url(_link_template(settings), token)
    result = {"order_id": order_id, "token": token, "manage_url": url, "expires_at": signer.expires_at(issued).isoformat()}
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out.print(f"token      {token}\nmanage_url {url}\nexpires    {result['expires_at']}", highlight=False)


@token_app.command("verify")
@handles_input_errors
def token_verify(
    token: Annotated[str, typer.Argument(help="The token to check.")],
    order_id: Annotated[Optional[str], typer.Option("--order", help="Also check it belongs to this order.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Tell which order a token opens, or why it opens nothing (exit code 1)."""
    settings, signer = _keyed(config_path)
    try:
        found = signer.verify(token, order_id)
        result = {"valid": True, "order_id": found}
        if _campaign_store(settings).order(found) is None:
            result = {"valid": False, "problem": "unknown", "order_id": found,
                      "detail": "signed correctly, but the ledger holds no such order: the link opens nothing"}
    except tokens.TokenExpired as exc:
        result = {"valid": False, "problem": "expired", "order_id": exc.order_id, "signed_at": exc.signed_at.isoformat()}
    except tokens.TokenForeign as exc:
        result = {"valid": False, "problem": "foreign", "detail": str(exc)}
    except tokens.TokenTampered:
        result = {"valid": False, "problem": "tampered"}
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    elif result["valid"]:
        out.print(f"valid: opens order {result['order_id']}", highlight=False)
    else:
        out.print(f"invalid: {result['problem']}" + (f" ({result.get('detail')})" if result.get("detail") else ""), highlight=False)
    if not result["valid"]:
        raise typer.Exit(1)


campaign_app = typer.Typer(help="Prepare, preview and send reminder campaigns (campaigns/<name>.toml).", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
CampaignArg = Annotated[str, typer.Argument(help="Campaign name (campaigns/<name>.toml) or a path to its TOML file.")]


def _campaign_store(settings: config.Settings) -> Store:
    return Store(store_url(settings.root, settings.section("store").get("url")))


@campaign_app.command("prepare")
@handles_input_errors
def campaign_prepare(name: CampaignArg, as_of: AsOfOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
                     config_path: ConfigOption = None) -> None:
    """Select the overdue orders at the campaign's stage, render every message, record the batch."""
    settings = config.load(config_path)
    campaign = campaigns.load(name, settings)
    store = _campaign_store(settings)
    with _progress() as progress:
        step = progress.add_task("preparing", total=None)
        prepared = campaigns.prepare(campaign, settings, store, _parse_as_of(as_of), tokens.keys_from_env(),
                                     on_step=lambda text: progress.update(step, description=text))
    summary = {"campaign": campaign.name, "prepared": prepared.added, "already_reminded_at_this_stage": prepared.already_reminded,
               "at_another_stage": prepared.other_stage, "not_dunned": int(len(prepared.excluded)),
               "rejected_input_rows": int(prepared.rejects["row"].nunique()) if len(prepared.rejects) else 0}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    out.print(f"{campaign.name}: {prepared.added} reminders prepared for stage {campaign.stage}"
              f" ({prepared.already_reminded} already reminded at this stage, {prepared.other_stage} at another stage,"
              f" {len(prepared.excluded)} not dunned)", highlight=False)
    out.print(f"next: dunning campaign preview {campaign.name}, then dunning campaign send {campaign.name} --send", highlight=False)


@campaign_app.command("preview")
@handles_input_errors
def campaign_preview(name: CampaignArg,
                     count: Annotated[int, typer.Option(help="Messages shown in the terminal.")] = 3,
                     html_out: Annotated[Optional[Path], typer.Option("--html", help="Preview file (default: exports/<campaign>-preview.html).")] = None,
                     config_path: ConfigOption = None) -> None:
    """Show a few rendered messages and write an HTML preview of the whole batch."""
    settings = config.load(config_path)
    campaign = campaigns.load(name, settings)
    store = _campaign_store(settings)
    row = store.campaign(campaign.name)
    if row is None:
        raise InputError(f"campaign {campaign.name} is not prepared yet: run `dunning campaign prepare {campaign.name}`")
    rows = store.reminders_of(row.id)
    for reminder in rows[:count]:
        out.print(Panel(Text(reminder.body_text), title=Text(f"{reminder.email} · {reminder.subject}"),
                        subtitle=Text(reminder.status)), soft_wrap=False)
    target = html_out or settings.exports_dir / f"{campaign.name}-preview.html"
    files.write_private(target, campaigns.preview_html(campaign, rows).encode("utf-8"), overwrite=True)
    out.print(f"{len(rows)} messages; preview written to {target}", highlight=False)


@campaign_app.command("send")
@handles_input_errors
def campaign_send(name: CampaignArg,
                  as_of: Annotated[Optional[str], typer.Option("--as-of", help="The date the reminders count as sent, YYYY-MM-DD (default: today).")] = None,
                  really: Annotated[bool, typer.Option("--send/--dry-run", help="Send for real (default: a dry run that sends nothing).")] = False,
                  as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
                  config_path: ConfigOption = None) -> None:
    """Send the prepared batch; a rerun after a crash resumes where it stopped."""
    settings = config.load(config_path)
    campaign = campaigns.load(name, settings)
    store = _campaign_store(settings)
    channel = channel_for(campaign, settings) if really else None
    with Progress(*Progress.get_default_columns(), console=err, disable=not err.is_terminal or not really) as progress:
        task = progress.add_task(f"sending {campaign.name}", total=None)
        try:
            report = sending.send(campaign, store, channel, as_of=_parse_as_of(as_of), dry_run=not really,
                                    on_progress=lambda done, total: progress.update(task, completed=done, total=total))
        except TemporaryFailure as exc:
            err.print(Text("stopped: ", style="bold red") + Text(f"{exc}; nothing was lost: run the same command again to resume"))
            raise typer.Exit(1) from None
    summary = {"campaign": campaign.name, "dry_run": report.dry_run, "would_send": report.would_send, "sent": report.sent,
               "failed": report.failed, "resent_in_flight": report.resent_in_flight,
               "taken_by_another_sender": report.taken_by_another_sender,
               "failures": [{"order_id": o, "reason": r} for o, r in report.failures]}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    elif report.dry_run:
        out.print(f"dry run: {report.would_send} reminders would be sent through {campaign.channel}; add --send to send them", highlight=False)
    else:
        out.print(f"{campaign.name}: {report.sent} sent, {report.failed} failed"
                  + (f", {report.taken_by_another_sender} being sent by another run" if report.taken_by_another_sender else ""),
                  highlight=False)
        for order_id in report.resent_in_flight:
            out.print(f"  order {order_id} was in flight when the last run stopped and was sent again (it may arrive twice)", highlight=False)
        for order_id, reason in report.failures:
            out.print(f"  failed: order {order_id}: {reason}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


track_app = typer.Typer(help="Bring in what was paid after the reminders, and list who is still open.", no_args_is_help=True)
app.add_typer(track_app, name="track")


@track_app.command("import")
@handles_input_errors
def track_import(file: FileArg, profile: ProfileOpt = None, as_of: AsOfOpt = None,
                 source: Annotated[Optional[list[str]], typer.Option("--source", help="Compare with the reminders recorded under this name (default: those that reminded the orders in the file).")] = None,
                 config_path: ConfigOption = None) -> None:
    """A later export of the shop: the drop in each reminded order's open amount is a payment."""
    settings = config.load(config_path)
    when = _parse_as_of(as_of)
    export = loader.read_orders(file, profiles.load(profile or settings.section("input").get("profile", "generic")))
    _report_rejects(export, None, None, None, settings, when)
    imported = tracking.import_export(_campaign_store(settings), export, when, list(source) if source else None)
    out.print(f"{imported.payments} new drops in open amount from {file.name} (counted only where no payment in the "
              "ledger explains them)", highlight=False)
    if imported.left_list:
        out.print(f"{len(imported.left_list)} reminded orders left the list: paid or cancelled, the export cannot tell "
                  f"({', '.join(imported.left_list[:10])}{' ...' if len(imported.left_list) > 10 else ''})", highlight=False)


@track_app.command("payments")
@handles_input_errors
def track_payments(file: Annotated[Path, typer.Argument(help="Payments file (order_id, paid_at, amount, optional currency, payment_id).")],
                   payments_profile: PaymentsProfileOpt = None,
                   as_of: Annotated[Optional[str], typer.Option("--as-of", help="Today, YYYY-MM-DD: later payment dates are refused.")] = None,
                   config_path: ConfigOption = None) -> None:
    """A payments file: stored once per payment id; unrelated and overpaying ones are flagged."""
    settings = config.load(config_path)
    when = _parse_as_of(as_of)
    paid = loader.read_payments(file, profiles.load(payments_profile or settings.section("input").get("payments_profile", "generic")))
    imported = tracking.import_payments(_campaign_store(settings), paid, when)
    out.print(f"{imported.payments} new payments from {file.name}", highlight=False)
    if imported.unrelated:
        out.print(f"unrelated (never reminded, stored): {', '.join(imported.unrelated)}", highlight=False)
    if imported.overpaid:
        out.print(f"overpayment (more than was open): {', '.join(imported.overpaid)}", highlight=False)
    paid.rejects = pd.concat([f for f in (paid.rejects, imported.rejected) if not f.empty]) if len(imported.rejected) else paid.rejects
    _report_rejects(None, paid, None, None, settings, when)


@track_app.command("open")
@handles_input_errors
def track_open(as_of: AsOfOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
               config_path: ConfigOption = None) -> None:
    """Orders that were reminded and are still open: ready for the next stage."""
    settings = config.load(config_path)
    when = _parse_as_of(as_of)
    rows = tracking.still_open(tracking.recovery(_campaign_store(settings), when))
    records = [{"order_id": r.order_id, "stage": r.stage, "reminded_on": r.as_of.date().isoformat(), "currency": r.currency,
                "still_open": to_major_string(int(r.still_open), r.currency), "days_overdue": int(r.days_overdue_now),
                "status": r.status} for r in rows.itertuples()]
    if as_json:
        sys.stdout.write(json.dumps(records) + "\n")
        return
    table = Table("order", "last stage", "reminded on", "still open", "days overdue", "paid so far")
    for r in records:
        table.add_row(r["order_id"], r["stage"] or "-", r["reminded_on"], f"{r['still_open']} {r['currency']}",
                      str(r["days_overdue"]), {"not": "nothing", "partly": "partly"}.get(r["status"], r["status"]))
    out.print(table)


@app.command("report")
@handles_input_errors
def report_command(
    as_of: AsOfOpt = None,
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="Only the reminders of this campaign (an export hand-over is export:<file name>).")] = None,
    html_out: Annotated[Optional[Path], typer.Option("--html", help="Write a self-contained HTML report with charts.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every table as JSON.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """How much of what was reminded has been paid: by campaign, stage, reason, method and currency."""
    settings = config.load(config_path)
    when = _parse_as_of(as_of)
    with _progress() as progress:
        progress.add_task("computing recovery", total=None)
        rows = tracking.recovery(_campaign_store(settings), when, campaign)
        tables = report.build(rows, when)
    if html_out is not None:
        files.write_private(html_out, report.html_report(tables, rows, when).encode("utf-8"), overwrite=True)
        err.print(f"report written to {html_out}")
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(tables), ensure_ascii=False, default=str) + "\n")
        return
    for name, table in tables.items():
        readable = report.readable(table)
        readable = readable[[c for c in readable.columns if c in report.TERMINAL_COLUMNS or not c.endswith(report.DETAIL_SUFFIXES)]]
        view = Table(title=name.capitalize())
        for column in readable.columns:
            view.add_column(column.replace("_", " "))
        for row in readable.itertuples(index=False):
            view.add_row(*["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in row])
        out.print(view)


@app.command("serve")
@handles_input_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="gunicorn worker processes.")] = 2,
    dev: Annotated[bool, typer.Option("--dev", help="Flask's development server with the reloader, instead of gunicorn.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Serve the customers' manage pages (/m/<token>) and the payment webhook."""
    from dunning.web import create_app
    from dunning.web.server import serve

    settings = config.load(config_path)
    err.print(f"serving manage pages on http://{host}:{port}/m/<token>" + (" (development server)" if dev else f" with {workers} gunicorn workers"))
    serve(create_app(settings), host, port, workers, dev)
