"""The `dunning` command: each command parses its options, calls one library function and presents the
result; the commands live in one module per group (orders, campaign, track, setup)."""
from __future__ import annotations

import logging
from typing import Annotated

import typer

from dunning import __version__
from dunning.cli import actions, campaign, journal, orders, setup, statement, track

# The database library's own logging (a connection that failed to reset as the store went away) stays out of the
# terminal: the command says what happened in one sentence.
logging.getLogger("sqlalchemy").addHandler(logging.NullHandler())
logging.getLogger("sqlalchemy").propagate = False

app = typer.Typer(
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


app.command("init")(setup.init)
app.command("profiles")(setup.list_profiles)
app.command("overdue")(orders.overdue)
app.command("export")(orders.export_command)
app.add_typer(campaign.app, name="campaign")
track.app.command("statement")(statement.track_statement)
track.app.command("confirm")(statement.track_confirm)
app.add_typer(track.app, name="track")
app.command("report")(track.report_command)
app.add_typer(actions.app, name="actions")
app.command("order")(journal.order_command)
app.add_typer(journal.app, name="payments")
app.add_typer(setup.token_app, name="token")
app.command("serve")(setup.serve_command)
app.command("merchant-password")(setup.merchant_password)
