"""`dunning rates`: the laws a policy can follow and the interest rates they read; `dunning rates add` for a new one."""
from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from dunning.cli.common import load_settings, Command, Group, AsOfOpt, ConfigOption, JsonOpt, as_of_date, err, handles_input_errors, out
from dunning.cli.tables import Column, fitted
from dunning.law import rates
from dunning.law.asked import Statute, missing_rates
from dunning.law.presets import PRESETS

app = typer.Typer(cls=Group, help="The laws a policy can follow (policy.law in dunning.toml) and the interest rates they read.",
                  invoke_without_command=True)


@app.callback()
@handles_input_errors
def rates_command(ctx: typer.Context, as_of: AsOfOpt = None, as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """List the laws and every rate with the day it applies from and its source; warn where a half-year's rate is missing.

    Library twin: dunning.law.rates.load."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings(config_path)
    known = rates.load(settings.rates_file)
    day = as_of_date(as_of)
    tables = sorted({r.table for r in known.rows})
    warnings = [w for w in (missing_rates(Statute(law, known), day) for law in PRESETS.values() if law.rate_table) if w]
    if as_json:
        sys.stdout.write(json.dumps({
            "law": settings.policy.law,
            "laws": [{"name": law.name, "title": law.title, "interest": law.rate_text(), "interest_from": law.interest_from,
                      "lump_sum": law.lump_sum, "currency": law.currency, "sources": list(law.sources)} for law in PRESETS.values()],
            "rates": [{"table": r.table, "valid_from": r.valid_from.isoformat(), "percent": str(r.percent), "source": r.source}
                      for table in tables for r in known.of(table)],
            "warnings": sorted(set(warnings)),
        }, ensure_ascii=False) + "\n")
        return
    chosen = settings.policy.law
    out.print(fitted("Laws ([policy] law)", [Column("law", keep=True), Column("market"), Column("interest"), Column("sources")], [
        [("* " if law.name == chosen else "") + law.name, law.title, law.rate_text(), "; ".join(law.sources)]
        for law in PRESETS.values()], out.width))
    out.print(fitted("Rates", [Column("table", keep=True), Column("from", keep=True), Column("percent", keep=True, right=True),
                               Column("source")],
                     [[r.table, r.valid_from.isoformat(), f"{r.percent:.2f}", r.source] for table in tables for r in known.of(table)],
                     out.width))
    for warning in sorted(set(warnings)):
        err.print(f"warning: {warning}")


@app.command("add", cls=Command)
@handles_input_errors
def add_command(
    table: Annotated[str, typer.Argument(help="The rate table (de_base, fr_legal, ecb_mro).")],
    valid_from: Annotated[str, typer.Argument(help="The first day the rate applies (YYYY-MM-DD).")],
    percent: Annotated[str, typer.Argument(help="The rate in percent a year, at most two decimals (e.g. 1.27 or -0.88).")],
    source: Annotated[Optional[str], typer.Option("--source", help="Where the rate was published.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Add a published rate to the workspace's rates.csv (it replaces a shipped one of the same table and day).

    Library twin: dunning.law.rates.add."""
    settings = load_settings(config_path)
    rate = rates.add(settings.rates_file, table, valid_from, percent, source or "")
    out.print(f"{rate.table}: {rate.percent:.2f} % from {rate.valid_from} (in {settings.rates_file})")
