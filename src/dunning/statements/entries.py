"""One bank statement entry, whatever the format it came in."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from dunning.errors import InputError
from dunning.money import from_decimal, known_currencies

CREDIT, DEBIT, RETURN = "credit", "debit", "return"


@dataclass(frozen=True)
class Entry:
    """A booking on the merchant's account. `amount` is in minor units and positive; `direction` says which way:
    a credit (money in), a debit (money out), or a return (a direct debit or credit taken back, with its reason)."""

    entry_ref: str
    booked_on: date
    amount: int
    currency: str
    direction: str
    reference: str = ""
    remittance: str = ""
    payer: str = ""
    payer_iban: str = ""
    reason_code: str = ""
    end_to_end: str = ""  # the payer's end-to-end id, where the bank gives a real one: another source may name it too


ENTRY_COLUMNS = list(Entry.__dataclass_fields__)


def frame(entries: list[Entry]) -> pd.DataFrame:
    return pd.DataFrame([asdict(e) for e in entries], columns=ENTRY_COLUMNS)


def minor_units(text: str, currency: str, path: Path, where: str) -> int:
    """An amount as the statement writes it (247.00 or 247,00) in the currency's minor units."""
    if currency not in known_currencies():
        raise InputError(f"{path}: {where}: {currency!r} is not an ISO 4217 currency")
    try:
        return abs(from_decimal(Decimal(text.strip().replace(",", ".")), currency))
    except (InvalidOperation, ValueError):
        raise InputError(f"{path}: {where}: {text!r} is not an amount in {currency}") from None
