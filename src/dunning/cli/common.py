"""What every command shares: the consoles, errors as one sentence, the options, progress and rejects."""
from __future__ import annotations

import functools
import os
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional

import click
import pandas as pd
import typer
from typer.core import TyperCommand, TyperGroup
from sqlalchemy.exc import DBAPIError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from dunning import config
from dunning.config import Settings
from dunning.errors import Failure, InputError
from dunning.exclusions import Filters
from dunning.law.asked import missing_rates
from dunning.sources import rejects

# User text (names, file contents, messages) is printed as it is: no markup, no highlighting.
out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
DEBUG_VARIABLE = "DUNNING_DEBUG"



class _FlagHelp:
    """A flag (--help, --show-completion) takes no value, so its help shows none (typer would show <bool>)."""

    def get_params(self, ctx: click.Context) -> list:
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = " "
        return params


class Command(_FlagHelp, TyperCommand):
    """A command of dunning."""


class Group(_FlagHelp, TyperGroup):
    """A group of dunning's commands."""


def load_settings(path: Path | None) -> Settings:
    """The settings of --config (or ./dunning.toml); says which ledger is used when --config puts it elsewhere, and
    when the law the policy follows lacks this half-year's published rate."""
    settings = config.load(path)
    note = settings.ledger_elsewhere(Path.cwd())
    if note:
        err.print(note)
    if settings.section("policy").get("law"):  # a law whose rate of this half-year is not in the table yet
        gap = missing_rates(settings.statute, date.today())
        if gap:
            err.print(f"warning: {gap}")
    return settings


ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="Settings file (default: ./dunning.toml).")]
JsonOpt = Annotated[bool, typer.Option("--json", metavar=" ", help="Print JSON.")]
FileArg = Annotated[Path, typer.Argument(help="Order export: CSV, XLSX or Parquet.")]
PaymentsOpt = Annotated[Optional[Path], typer.Option("--payments", help="Payments file (order_id, paid_at, amount).")]
ProfileOpt = Annotated[Optional[str], typer.Option("--profile", help="Profile name or TOML path for the export.")]
PaymentsProfileOpt = Annotated[Optional[str], typer.Option("--payments-profile", help="Profile for the payments file.")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", metavar="YYYY-MM-DD", help="Date to judge by (default: today).")]
GraceOpt = Annotated[Optional[int], typer.Option("--grace", help="Grace days (default: policy.grace_days).")]
KindOpt = Annotated[Optional[list[str]], typer.Option("--kind", metavar="KIND", help="Only this kind: subscription, installment, one_time.")]
MethodOpt = Annotated[Optional[list[str]], typer.Option("--method", metavar="METHOD", help="Only this payment method.")]
ProductOpt = Annotated[Optional[list[str]], typer.Option("--product", metavar="TEXT", help="Only products whose name contains this.")]
CurrencyOpt = Annotated[Optional[list[str]], typer.Option("--currency", metavar="CODE", help="Only this currency.")]
StageOpt = Annotated[Optional[list[str]], typer.Option("--stage", metavar="STAGE", help="Only this stage (e.g. friendly, second, final).")]
MinDaysOpt = Annotated[int, typer.Option("--min-days", help="Only orders at least this many days overdue.")]
MinAmountOpt = Annotated[Optional[str], typer.Option("--min-amount", help="Only open amounts of at least this much (major units).")]
SheetOpt = Annotated[Optional[str], typer.Option("--sheet", help="The sheet to read of a workbook with several (XLSX).")]
RejectsOpt = Annotated[Optional[Path], typer.Option("--rejects", help="Where to write rejected input rows.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", metavar=" ", help="A look that records nothing in the ledger.")]


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
        except Failure as exc:
            err.print(Text("error: ", style="bold red") + Text(str(exc)))
            raise typer.Exit(1) from None
        except DBAPIError as exc:  # the database went away or refused: its own words, never the SQL or its values
            if os.environ.get(DEBUG_VARIABLE):
                raise
            said = str(exc.orig).strip().splitlines()[0] if exc.orig is not None and str(exc.orig).strip() else type(exc.orig).__name__
            err.print(Text("error: ", style="bold red") + Text(f"the store could not be used ({said})"))
            raise typer.Exit(1) from None
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


def as_of_date(value: Optional[str], option: str = "--as-of") -> date:
    """The date an option names (YYYY-MM-DD), or today; anything else is one sentence (exit 2), not a usage screen."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-20") from None


def date_option(flag: str, words: str) -> object:
    """A date option (YYYY-MM-DD), read by `as_of_date`."""
    return Annotated[Optional[str], typer.Option(flag, metavar="YYYY-MM-DD", help=words)]


def filters(kind, method, product, currency, stage, min_days, min_amount) -> Filters:
    """The filter options as given; `filters.checked` makes them canonical against the data."""
    try:
        minimum = None if min_amount is None else Decimal(min_amount)
    except InvalidOperation:
        raise InputError(f"--min-amount {min_amount!r} is not an amount (write it like 50 or 49.90)") from None
    return Filters(
        kinds=tuple(kind or ()), payment_methods=tuple(method or ()), products=tuple(product or ()),
        currencies=tuple(c.upper() for c in currency or ()), stages=tuple(stage or ()),
        min_days=min_days, min_amount=minimum,
    )


class _Unseen:
    """Where stderr is no terminal (a pipe, a log, cron): progress draws nothing, not even the blank line an older rich
    leaves behind a disabled bar."""

    def __enter__(self) -> _Unseen:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, *args, **kwargs) -> int:
        return 0

    def update(self, *args, **kwargs) -> None:
        return None


def progress(bar: bool = False, shown: bool = True) -> Progress | _Unseen:
    """A spinner with the step's words (or, with `bar`, a bar with counts) on stderr, gone when done; where stderr is
    no terminal, or not `shown`, nothing."""
    if not err.is_terminal or not shown:
        return _Unseen()
    if bar:
        return Progress(*Progress.get_default_columns(), console=err)
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True)


def report_rejects(export, paid, rejects_out: Optional[Path], next_to: Optional[Path], settings: Settings, when: date) -> None:
    """Rows read, accepted and rejected per input file; rejected rows listed and written to a rejects CSV."""
    sources = [source for source in (export, paid) if source is not None]
    err.print("; ".join(f"{s.path.name}: {s.rows_in} rows, {s.rows_accepted} accepted, {s.rows_rejected} rejected" for s in sources))
    for source in sources:
        for note in getattr(source, "notes", []):
            err.print(f"note: {source.path.name}: {note}")
    frames = [s.rejects for s in sources if not s.rejects.empty]
    if not frames:
        return
    problems = pd.concat(frames)
    if rejects_out is None:
        base = next_to.with_suffix("") if next_to else settings.exports_dir / f"{sources[0].path.stem}-{when.isoformat()}"
        rejects_out = Path(f"{base}.rejects.csv")
    rejects.write(problems, rejects_out)
    for row in problems.head(10).itertuples():
        err.print(f"  {Path(row.file).name} row {row.row}, {row.column}: {row.reason}" + (f" ({row.value!r})" if row.value else ""))
    if len(problems) > 10:
        err.print(f"  ... and {len(problems) - 10} more")
    err.print(f"rejected rows written to {rejects_out}")


def say_recorded(recorded) -> None:
    """What a run added to the ledger (a written plan), on stderr."""
    counts = recorded.counts
    parts = [f"{counts['payments']} new payments"] if counts["payments"] else []
    parts += [f"{counts['drops']} changes in what the export says is paid"] if counts["drops"] else []
    parts += [f"{counts['new_orders']} new orders"] if counts["new_orders"] else []
    parts += [f"{counts['review']} payments to review (dunning payments list)"] if counts["review"] else []
    parts += [f"{counts['unmatched']} payments for orders not known yet (kept)"] if counts["unmatched"] else []
    if parts:
        err.print("ledger: " + ", ".join(parts))
