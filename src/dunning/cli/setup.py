"""`dunning init`, `profiles`, `token sign | verify` and `serve`: the workspace, its links and its page."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from dunning import config, tokens
from dunning.cli.common import load_settings, Command, Group, ConfigOption, JsonOpt, err, handles_input_errors, out
from dunning.cli.tables import Column, fitted
from dunning.errors import InputError
from dunning.sources import profiles

token_app = typer.Typer(cls=Group, help="Sign and verify per-order manage tokens.", no_args_is_help=True)


@handles_input_errors
def init(folder: Annotated[Path, typer.Argument(help="Workspace folder.")] = Path("."),
         examples: Annotated[bool, typer.Option("--examples", metavar=" ", help="Also write example data to try it on: orders.csv, "
                                                "plans.csv, payments.csv and the campaign second-reminder.")] = False,
         as_json: JsonOpt = False) -> None:
    """Write a commented dunning.toml with every setting and its default, plus the workspace folders."""
    created = config.init(folder, examples)
    if as_json:
        sys.stdout.write(json.dumps({"created": [str(p) for p in created]}) + "\n")
        return
    for path in created:
        out.print(f"created {path}")
    if not created:
        out.print(f"{folder} is already a dunning workspace; nothing changed")
        return
    data = "orders.csv --profile elopage" if (folder / "orders.csv").exists() else "<your export> --profile <profile>"
    out.print(f"\nnext:\n  cd {folder}\n  export DUNNING_SECRET_KEYS=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
              f"\n  dunning overdue {data}\n(dunning profiles lists the exports dunning reads; edit dunning.toml for your policy)")


@handles_input_errors
def list_profiles(as_json: JsonOpt = False) -> None:
    """List the built-in export profiles."""
    rows = [(name, profiles.load(name).description) for name in profiles.builtin_names()]
    if as_json:
        sys.stdout.write(json.dumps([{"name": n, "description": d} for n, d in rows]) + "\n")
        return
    out.print(fitted("Profiles", [Column("profile", keep=True), Column("reads")], [list(r) for r in rows], out.width))


@token_app.command("sign", cls=Command)
@handles_input_errors
def token_sign(order_id: Annotated[str, typer.Argument(help="The order to sign a token for.")], as_json: JsonOpt = False,
               config_path: ConfigOption = None) -> None:
    """Print a manage token and link for one order the ledger holds (so the link opens its page)."""
    settings = load_settings(config_path)
    signer = settings.signer()
    if not settings.store().holds(order_id):
        raise InputError(f"order {order_id} is not in the ledger, so its link would open nothing: "
                         "read the export that holds it first (dunning overdue <export>)")
    issued = datetime.now(timezone.utc).replace(microsecond=0)
    token = signer.sign(order_id, issued)
    url = tokens.manage_url(settings.link_template, token)
    result = {"order_id": order_id, "token": token, "manage_url": url, "expires_at": signer.expires_at(issued).isoformat()}
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out.print(f"token      {token}\nmanage_url {url}\nexpires    {result['expires_at']}")


@token_app.command("verify", cls=Command)
@handles_input_errors
def token_verify(token: Annotated[str, typer.Argument(help="The token to check.")],
                 order_id: Annotated[Optional[str], typer.Option("--order", help="Also check it belongs to this order.")] = None,
                 as_json: JsonOpt = False, config_path: ConfigOption = None) -> None:
    """Tell which order a token opens, or why it opens nothing (exit code 1)."""
    settings = load_settings(config_path)
    signer = settings.signer()
    try:
        found = signer.verify(token, order_id)
        result = {"valid": True, "order_id": found}
        if not settings.store().holds(found):
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
        out.print(f"valid: opens order {result['order_id']}")
    else:
        out.print(f"invalid: {result['problem']}" + (f" ({result.get('detail')})" if result.get("detail") else ""))
    if not result["valid"]:
        raise typer.Exit(1)


@handles_input_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="gunicorn worker processes.")] = 2,
    dev: Annotated[bool, typer.Option("--dev", metavar=" ", help="Flask's development server with the reloader, instead of gunicorn.")] = False,
    debugger: Annotated[bool, typer.Option("--debugger", metavar=" ", help="Also Werkzeug's interactive debugger on errors: "
                                           "for your own machine only, never where anyone else can reach it.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Serve the customers' manage pages (/m/<token>), the payment webhook, and the merchant's dashboard (/merchant/)."""
    from dunning.web import create_app
    from dunning.web.server import serve

    settings = load_settings(config_path)
    app = create_app(settings)
    if debugger:
        err.print("warning: the interactive debugger runs code for anyone who reaches a failing page; "
                  "never serve it where others can reach it")
    proxies = settings.section("web").get("trusted_proxies", 0)
    if proxies and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"note: trusted_proxies = {proxies}: X-Forwarded-For is honoured only from loopback and private "
                  "addresses (your proxy); a client straight from the internet cannot choose its address")
    err.print(f"serving manage pages on http://{host}:{port}/m/<token>" + (" (development server)" if dev or debugger else f" with {workers} gunicorn workers"))
    serve(app, host, port, workers, dev, debugger)


@handles_input_errors
def merchant_password(
    password: Annotated[Optional[str], typer.Option(help="The dashboard's password (asked for, twice, when not given).")] = None,
) -> None:
    """Print the hash of a password for the merchant's dashboard: set it as DUNNING_MERCHANT_PASSWORD_HASH in the
    server's environment (the password itself is stored nowhere). Only the hash goes to standard output, so
    `export DUNNING_MERCHANT_PASSWORD_HASH=$(dunning merchant-password)` works."""
    from werkzeug.security import generate_password_hash

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < 12:
        raise InputError("choose a password of at least 12 characters")
    sys.stdout.write(generate_password_hash(password) + "\n")
