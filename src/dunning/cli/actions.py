"""`dunning actions`: the orders and requests that need the merchant's decision, and recording it."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dunning import actions, cancelling, files
from dunning.journal import decisions
from dunning.cli.common import load_settings, Command, Group, ConfigOption, JsonOpt, as_of_date, date_option, err, handles_input_errors, out
from dunning.cli.tables import Column, fitted
from dunning.errors import InputError
from dunning.money import to_major_string
from dunning.sources import profiles

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


@app.command("cancel", cls=Command)
@handles_input_errors
def actions_cancel(
    order_ids: Annotated[Optional[list[str]], typer.Option("--order", metavar="ORDER", help="An order to cancel (again for more).")] = None,
    due: Annotated[bool, typer.Option("--due", help="Every order the policy cancels (policy.after_final.action = cancel).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be cancelled; change nothing.")] = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="The shop's import file (default: exports/cancelled-<date>.csv).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="The shop's profile, for its columns and status word "
                                                                     "(default: input.profile).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the record.")] = "",
    as_of: AsOf = None, as_json: JsonOpt = False, config_path: ConfigOption = None,
) -> None:
    """Cancel orders: recorded in the ledger (no further reminders; a campaign of stage `cancellation` tells the
    customers), a CSV in the shop's own column names and status word to import back, and, with shop.cancel_url,
    a signed call to the shop. Running it again for the same orders writes the file and calls the shop again.

    Library twin: dunning.cancelling.carry_out."""
    settings = load_settings(config_path)
    store, when = settings.store(), as_of_date(as_of)
    if due and settings.policy.after_final.action != cancelling.CANCEL:
        err.print(f"policy.after_final.action is {settings.policy.after_final.action!r}, not 'cancel': --due takes no order")
    chosen = list(dict.fromkeys([*(order_ids or []), *(cancelling.due(store, settings.policy, when) if due else [])]))
    if dry_run or not chosen:
        if as_json:
            sys.stdout.write(json.dumps({"would_cancel": chosen} if dry_run else
                                        {"cancelled": [], "cancelled_before": [], "file": None, "shop_answered": None}) + "\n")
        else:
            out.print(("would cancel: " + ", ".join(chosen)) if chosen else "nothing to cancel")
        return
    target = csv_out or settings.exports_dir / f"cancelled-{when.isoformat()}.csv"
    try:
        done = cancelling.carry_out(store, chosen, when, file=target, url=settings.shop.get("cancel_url", ""), note=note,
                                    secret=os.environ.get(cancelling.SECRET_VARIABLE, ""),
                                    profile=profiles.load(profile or settings.section("input").get("profile", "generic")))
    except cancelling.ShopRefused as exc:
        err.print(f"error: {exc}; the orders are cancelled in the ledger and listed in {target}: run the same command "
                  "again to call the shop again")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps({"cancelled": [c.order_id for c in done.cancelled if c.new],
                                     "cancelled_before": [c.order_id for c in done.cancelled if not c.new],
                                     "file": str(done.file), "shop_answered": done.shop_answered}) + "\n")
        return
    for c in done.cancelled:
        out.print(f"order {c.order_id}: cancelled{'' if c.new else ' before'} "
                  f"({to_major_string(c.amount_open, c.currency)} {c.currency} open)")
    out.print(f"for the shop: {done.file}" + (f"; the shop's cancel_url answered {done.shop_answered}"
                                              if done.shop_answered else ""))


@app.command("done", cls=Command)
@handles_input_errors
def actions_done(request_id: Annotated[int, typer.Argument(help="The request's number (#3 in the list).")],
                 config_path: ConfigOption = None) -> None:
    """Mark a customer's change-of-method request as dealt with."""
    settings = load_settings(config_path)
    if not decisions.request_done(settings.store(), request_id):
        raise InputError(f"request {request_id} was marked done before")
    out.print(f"request {request_id} done")
