"""`dunning actions`: the orders and requests that need the merchant's decision, and recording it."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dunning import actions, files
from dunning.journal import decisions
from dunning.cli.common import load_settings, Command, Group, ConfigOption, JsonOpt, as_of_date, date_option, handles_input_errors, out
from dunning.cli.tables import Column, fitted
from dunning.errors import InputError

app = typer.Typer(cls=Group, help="What needs your decision: orders still open after the final notice, customers' requests.",
                  invoke_without_command=True)
AsOf = date_option("--as-of", "Date to judge by (default: today).")


@app.callback()
@handles_input_errors
def actions_list(
    context: typer.Context, as_of: AsOf = None, as_json: JsonOpt = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Write the work list as CSV.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """The work list: orders still open `after_final.days` after the final notice (with the action the policy
    suggests), and change-of-method requests; with amounts, reminders, visits and requests.

    Library twin: dunning.actions.work_list."""
    if context.invoked_subcommand is not None:
        return
    settings = load_settings(config_path)
    items = actions.work_list(settings.store(), settings.policy, as_of_date(as_of))
    if csv_out is not None:
        files.write_private(csv_out, files.csv_bytes(items), overwrite=True)
    if as_json:
        sys.stdout.write(json.dumps(items.astype(object).where(items.notna(), None).to_dict("records"), ensure_ascii=False) + "\n")
        return
    if items.empty:
        out.print("nothing needs your decision")
        return
    columns = [Column("order", keep=True), Column("action", keep=True), Column("open", keep=True, right=True),
               Column("customer"), Column("final notice"), Column("visits", right=True), Column("reminders"), Column("requests")]
    out.print(fitted("Needs your decision", columns, [
        [r.order_id, r.action, f"{r.open_amount} {r.currency}", r.customer, r.final_sent_on or "-", str(r.visits),
         r.reminders, r.requests] for r in items.itertuples()], out.width))


@app.command("decide", cls=Command)
@handles_input_errors
def actions_decide(
    order_id: Annotated[str, typer.Argument(help="The order.")],
    decision: Annotated[str, typer.Option("--as", metavar=f"<{'|'.join(decisions.DECISIONS)}>", help="What you decided.")],
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
    as_of: AsOf = None, config_path: ConfigOption = None,
) -> None:
    """Record that an order was cancelled, written off or handed to collection: it gets no further reminders,
    and the report counts its open amount apart."""
    decisions.checked(decision)
    settings = load_settings(config_path)
    store, when = settings.store(), as_of_date(as_of)
    amount, currency = actions.open_amount(store, order_id, when)
    if not currency:
        raise InputError(f"order {order_id!r} is not in the ledger")
    if not decisions.decide(store, order_id, decision, amount, currency, when, note):
        raise InputError(f"order {order_id} was decided before; a decision is recorded once")
    out.print(f"order {order_id}: {decision.replace('_', ' ')} on {when.isoformat()}")


@app.command("done", cls=Command)
@handles_input_errors
def actions_done(request_id: Annotated[int, typer.Argument(help="The request's number (#3 in the list).")],
                 config_path: ConfigOption = None) -> None:
    """Mark a customer's change-of-method request as dealt with."""
    settings = load_settings(config_path)
    if not decisions.request_done(settings.store(), request_id):
        raise InputError(f"request {request_id} was marked done before")
    out.print(f"request {request_id} done")
