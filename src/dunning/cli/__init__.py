"""The `dunning` command: each command parses its options, calls one library function and presents the
result; the commands live in one module per group (orders, campaign, track, setup)."""
from __future__ import annotations

import logging
from typing import Annotated

import typer

from dunning import __version__
from dunning.cli import actions, campaign, journal, orders, rates, setup, statement, track
from dunning.cli.common import Command, Group
from dunning.cli.memory import return_freed_memory_at_once

# The database library's own logging (a connection that failed to reset as the store went away) stays out of the
# terminal: the command says what happened in one sentence.
logging.getLogger("sqlalchemy").addHandler(logging.NullHandler())
logging.getLogger("sqlalchemy").propagate = False
logging.getLogger("mt940").propagate = False  # the parser logs its patterns; a broken file is one sentence

app = typer.Typer(cls=Group,
    help="Find overdue subscription and installment payments and remind the customers.",
    no_args_is_help=True, pretty_exceptions_enable=False,
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"dunning {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", metavar=" ", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Find overdue subscription and installment payments and remind the customers."""
    return_freed_memory_at_once()


app.command("init", cls=Command)(setup.init)
app.command("profiles", cls=Command)(setup.list_profiles)
app.command("overdue", cls=Command)(orders.overdue)
app.command("export", cls=Command)(orders.export_command)
app.add_typer(campaign.app, name="campaign")
track.app.command("statement", cls=Command)(statement.track_statement)
track.app.command("confirm", cls=Command)(statement.track_confirm)
app.add_typer(track.app, name="track")
app.command("report", cls=Command)(track.report_command)
app.add_typer(actions.app, name="actions")
app.command("order", cls=Command)(journal.order_command)
app.command("customer", cls=Command)(journal.customer_command)
app.command("letter", cls=Command)(journal.letter_command)
app.add_typer(journal.app, name="payments")
app.add_typer(rates.app, name="rates")
app.add_typer(setup.token_app, name="token")
app.command("serve", cls=Command)(setup.serve_command)
app.command("merchant-password", cls=Command)(setup.merchant_password)
