"""`dunning order ID`, `dunning customer EMAIL`, `dunning letter ID` and `dunning payments`: one order's whole story, a
customer's whole account, a copy of an order's last message to post, and the payments that wait for the merchant."""
from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from dunning.cli.common import load_settings, Command, Group, AsOfOpt, ConfigOption, JsonOpt, as_of_date, handles_input_errors, out
from dunning.cli.tables import Column, fitted
from dunning import reprint
from dunning.channels import printed
from dunning.errors import InputError
from dunning.files import safe_name, write_private
from dunning.journal import history, payments
from dunning.money import from_decimal, to_major_string

app = typer.Typer(cls=Group, help="Payments that wait for you (to review, or for an order), and your corrections.", no_args_is_help=True)
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the ledger with the change).")]


@handles_input_errors
def order_command(order_id: Annotated[str, typer.Argument(help="The shop's order id.")], as_of: AsOfOpt = None,
                  as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """One order's whole story in time order: charges, every sighting of money and what became of it, movements,
    reminders, visits, requests, decisions; then what it owes.

    Library twin: dunning.journal.history.of_order."""
    settings = load_settings(config_path)
    told = history.of_order(settings.store(), order_id, as_of_date(as_of))
    if told is None:
        raise InputError(f"the ledger holds no order {order_id!r}")
    if as_json:
        sys.stdout.write(json.dumps({"order_id": order_id, "currency": told.currency, "email": told.email,
                                     "events": _events_json(told.events, {order_id: told.currency}),
                                     "balance": _balance_json(told)}, ensure_ascii=False) + "\n")
        return
    out.print(fitted(f"Order {order_id} ({told.currency}, {told.email})", _EVENT_COLUMNS,
                     _event_rows(told.events, {order_id: told.currency}), out.width))
    out.print(_owes(told))


@handles_input_errors
def letter_command(order_id: Annotated[str, typer.Argument(help="The shop's order id.")], as_of: AsOfOpt = None,
                   output: Annotated[Optional[Path], typer.Option("-o", "--output", help="PDF path (default: exports/letter-<order>-<message>.pdf).")] = None,
                   force: Annotated[bool, typer.Option("--force", metavar=" ", help="Replace an existing file given with -o.")] = False,
                   as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """The order's last message as a letter to post (the customer says the e-mail never came): its text as sent, to the
    postal address it was prepared with, dated --as-of, asking what is open that day. Records nothing.

    Library twin: dunning.reprint.copy."""
    settings = load_settings(config_path)
    letterhead, accounts = printed.of_settings(settings)
    made = reprint.copy(settings.store(), order_id, as_of_date(as_of), letterhead, accounts)
    target = write_private(output or settings.exports_dir / f"letter-{safe_name(order_id)}-{made.reminder_id}.pdf", made.pdf,
                           overwrite=force or output is None)
    if as_json:
        sys.stdout.write(json.dumps({"order_id": order_id, "file": str(target), "stage": made.stage,
                                     "sent_on": made.sent_on.isoformat()}) + "\n")
        return
    out.print(f"{target}: a copy of the {made.stage} message of {made.sent_on.isoformat()} to post")


@handles_input_errors
def customer_command(email: Annotated[str, typer.Argument(help="The customer's e-mail address (any case).")],
                     as_of: AsOfOpt = None, as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """A customer's whole account: every order under the address with what it owes, then every charge, payment,
    reminder, visit, request and decision of them in one time line, and what the customer owes per currency.

    Library twin: dunning.journal.history.of_customer."""
    settings = load_settings(config_path)
    account = history.of_customer(settings.store(), email, as_of_date(as_of))
    if account is None:
        raise InputError(f"the ledger holds no order of {email!r}")
    currencies = {h.order_id: h.currency for h in account.orders}
    owed = {currency: to_major_string(amount, currency) for currency, amount in sorted(account.owed_now.items())}
    if as_json:
        sys.stdout.write(json.dumps({
            "email": account.email, "owed_now": owed,
            "orders": [{"order_id": h.order_id, "currency": h.currency, "balance": _balance_json(h)} for h in account.orders],
            "events": _events_json(account.events, currencies)}, ensure_ascii=False) + "\n")
        return
    out.print(fitted(f"Customer {account.email}", [Column("order", keep=True), Column("owes now", keep=True, right=True),
                                                     Column("later", right=True), Column("paid", right=True)],
                     [[h.order_id, f"{to_major_string(h.owed['owed_now'], h.currency)} {h.currency}",
                       to_major_string(h.owed["later_open"], h.currency), to_major_string(h.owed["paid"], h.currency)]
                      for h in account.orders], out.width))
    out.print(fitted("In time order", [Column("order", keep=True)] + _EVENT_COLUMNS,
                     [[e.order_id] + row for e, row in zip(account.events.itertuples(), _event_rows(account.events, currencies))],
                     out.width))
    out.print("owes now: " + "; ".join(f"{amount} {currency}" for currency, amount in owed.items()))


_EVENT_COLUMNS = [Column("when", keep=True), Column("event", keep=True), Column("what", keep=True), Column("amount", right=True),
                  Column("from"), Column("status"), Column("ref"), Column("note")]


def _amount(value, currency: str) -> str:
    return "" if value is None or pd.isna(value) else to_major_string(int(value), currency)


def _event_rows(events: pd.DataFrame, currencies: dict[str, str]) -> list[list[str]]:
    order_ids = events["order_id"] if "order_id" in events else [next(iter(currencies))] * len(events)
    return [[e.when.isoformat(), e.event, e.what, _amount(e.amount, e.currency or currencies[order_id]), e.source, e.status,
             e.ref, e.note] for e, order_id in zip(events.itertuples(), order_ids)]


def _events_json(events: pd.DataFrame, currencies: dict[str, str]) -> list[dict]:
    order_ids = events["order_id"] if "order_id" in events else [next(iter(currencies))] * len(events)
    return [{**e, "when": e["when"].isoformat(), "amount": _amount(e["amount"], e["currency"] or currencies[order_id])}
            for e, order_id in zip(events.to_dict("records"), order_ids)]


def _balance_json(told: history.History) -> dict[str, str]:
    return {name: to_major_string(value, told.currency) for name, value in told.owed.items()}


def _owes(told: history.History) -> str:
    owed, money = told.owed, lambda v: to_major_string(v, told.currency)  # noqa: E731
    extra = "".join(f", {words} {money(owed[name])}" for name, words in (("interest_open", "interest"), ("costs_open", "costs"))
                    if owed[name])
    return (f"owes now {money(owed['owed_now'])} {told.currency} (installments due {money(owed['due_open'])}, fees "
            f"{money(owed['fees_open'])}{extra}); later {money(owed['later_open'])}; paid {money(owed['paid'])}"
            + (f"; credit {money(owed['credit'])}" if owed["credit"] else ""))


@app.command("list", cls=Command)
@handles_input_errors
def list_waiting(as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """Payments in review (several movements could be the same money, or a probable match from a statement) and
    payments for orders the ledger does not know yet.

    Library twin: dunning.journal.payments.waiting."""
    store = load_settings(config_path).store()
    with store.engine.connect() as db:
        rows = payments.waiting(db)
    records = [{"id": int(r.id), "status": r.status, "source": r.origin, "order_id": r.order_id, "kind": r.kind,
                "amount": to_major_string(int(r.amount), r.currency), "currency": r.currency,
                "date": r.occurred_on.date().isoformat(), "note": r.note} for r in rows.itertuples()]
    if as_json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False) + "\n")
        return
    if not records:
        out.print("no payment waits for you")
        return
    columns = [Column("id", keep=True), Column("status", keep=True), Column("amount", keep=True, right=True), Column("order"),
               Column("date"), Column("from"), Column("why")]
    out.print(fitted("Payments that wait for you", columns, [
        [str(r["id"]), r["status"], f"{r['amount']} {r['currency']}", r["order_id"] or "-", r["date"], r["source"], r["note"]]
        for r in records], out.width))


@app.command("assign", cls=Command)
@handles_input_errors
def assign(observation: Annotated[int, typer.Argument(help="The id `dunning payments list` shows.")],
           to: Annotated[str, typer.Option("--to", help="The order it pays.")], reason: Reason, config_path: ConfigOption = None) -> None:
    """Count a waiting payment as money of its own for an order."""
    store = load_settings(config_path).store()
    with store.writing() as db:
        movement = payments.assign(db, observation, to, reason)
    out.print(f"payment {observation} recorded for order {to} (movement {movement})")


@app.command("move", cls=Command)
@handles_input_errors
def move(movement: Annotated[int, typer.Argument(help="The movement's id (`dunning order ID` lists them).")],
         to: Annotated[str, typer.Option("--to", help="The order it belongs to.")], reason: Reason,
         amount: Annotated[Optional[str], typer.Option("--amount", help="Move only this much (major units): a split.")] = None,
         config_path: ConfigOption = None) -> None:
    """Move a movement, or part of it, to another order (it is taken off its order and put on the other)."""
    store = load_settings(config_path).store()
    with store.writing() as db:
        currency = db.execute(payments.currency_of(movement)).scalar()
        if currency is None:
            raise InputError(f"there is no movement {movement}")
        part = None
        if amount is not None:
            try:
                part = from_decimal(Decimal(amount), currency)
            except (InvalidOperation, ValueError):
                raise InputError(f"--amount {amount!r} is not an amount in {currency}") from None
        taken, put = payments.move(db, movement, to, reason, part)
    out.print(f"movement {movement} moved to order {to} (movements {taken} and {put})")
