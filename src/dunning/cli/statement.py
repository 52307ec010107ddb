"""`dunning track statement` and `dunning track confirm`: the bank's statement into the ledger."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dunning import files
from dunning.cli.common import load_settings, ConfigOption, JsonOpt, as_of_date, date_option, err, handles_input_errors, out
from dunning.cli.tables import Column, fitted
from dunning.money import to_major_string
from dunning.statements import booking
from dunning.statements.entries import RETURN
from dunning.statements.matching import CERTAIN, PROBABLE

AsOf = date_option("--as-of", "Today: later bookings are refused.")
LISTED = ["entry_ref", "bank_ref", "booked_on", "direction", "amount", "currency", "payer", "remittance", "reason_code", "order_id",
          "matched_by", "note"]


@handles_input_errors
def track_statement(
    file: Annotated[Path, typer.Argument(help="Bank statement: camt.053, camt.054 (XML) or MT940.")],
    as_of: AsOf = None, as_json: JsonOpt = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Write every entry with how it matched as CSV.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Record the customers' transfers from the bank's statement; list what needs a look.

    Matched by creditor or QR reference, then by an order id in the text: recorded as paid. Matched by amount
    and name only: probable, listed for `dunning track confirm`. Returns count against their order.

    Library twin: dunning.statements.booking.import_statement."""
    settings = load_settings(config_path)
    booked = booking.import_statement(settings.store(), file, as_of_date(as_of))
    entries = booked.entries.assign(amount=[to_major_string(int(a), c) for a, c in zip(booked.entries["amount"],
                                                                                     booked.entries["currency"])],
                                    booked_on=booked.entries["booked_on"].astype(str))
    if csv_out is not None:
        files.write_private(csv_out, files.csv_bytes(entries[LISTED]), overwrite=True)
        err.print(f"entries written to {csv_out}")
    counts = entries["matched_by"].value_counts().to_dict()
    if as_json:
        sys.stdout.write(json.dumps({"entries": len(entries), "new_entries": booked.new_entries,
                                     "new_payments": booked.new_payments, "by_match": counts,
                                     "listed": entries[LISTED].to_dict("records")}, ensure_ascii=False) + "\n")
        return
    out.print(f"{file.name}: {len(entries)} entries ({booked.new_entries} new), {booked.new_payments} payments recorded; "
              + ", ".join(f"{n} {how}" for how, n in sorted(counts.items())))
    look = entries[~entries["matched_by"].isin(CERTAIN) | (entries["direction"] == RETURN)]
    if not look.empty:
        columns = [Column("entry", keep=True), Column("amount", keep=True, right=True), Column("outcome", keep=True),
                   Column("order"), Column("payer"), Column("text")]
        out.print(fitted("To look at", columns, [
            [r.entry_ref, f"{r.amount} {r.currency}", _outcome(r), r.order_id or "-", r.payer, r.remittance[:60]]
            for r in look.itertuples()], out.width))


@handles_input_errors
def track_confirm(entry: Annotated[str, typer.Argument(help="A probable match (see track statement): its entry, or its bank reference where only it has that one.")],
                  as_of: AsOf = None, config_path: ConfigOption = None) -> None:
    """Count a probable match from a statement as paid, after checking it."""
    settings = load_settings(config_path)
    order_id = booking.confirm(settings.store(), entry, as_of_date(as_of))
    out.print(f"entry {entry} recorded as a payment for order {order_id}")


def _outcome(row) -> str:
    if row.matched_by == PROBABLE:
        return "probable: confirm"
    if row.direction == RETURN:
        return f"return {row.reason_code}".strip()
    return row.note or row.matched_by
