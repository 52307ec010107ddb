"""One bank statement entry, whatever the format it came in, and what identifies it at the bank."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from dunning.money import exponent, known_currencies, to_decimal

CREDIT, DEBIT, RETURN, REVERSAL = "credit", "debit", "return", "reversal"
MONEY_IN = (CREDIT, REVERSAL)
NOT_REFERENCES = frozenset({"", "NONREF", "NOTPROVIDED", "NONE", "NOREF", "N/A"})  # what banks write where they have none
_AMOUNT = re.compile(r"\d{1,15}(?:[.,]\d{0,5})?")  # ISO 20022 and SWIFT: at most 18 digits, 5 after the mark


@dataclass(frozen=True)
class Entry:
    """A booking on the merchant's account. `amount` is in minor units and positive; `direction` says which way:
    a credit (money in), a debit (money out), a return (a direct debit or credit taken back, with its reason), or a
    reversal (a debit taken back, such as a fee: money in, but no customer's payment).
    `charges` is what the bank kept of a return (the merchant's cost, never the customer's); `problem` says why an
    entry cannot be counted (it is listed, refused, with that reason)."""

    booked_on: date
    amount: int
    currency: str
    direction: str
    account: str = ""
    bank_ref: str = ""  # the bank's own reference for the entry, where it gives one (not unique across days or accounts)
    reference: str = ""
    remittance: str = ""
    payer: str = ""
    payer_iban: str = ""
    reason_code: str = ""
    end_to_end: str = ""  # the payer's end-to-end id, where the bank gives a real one: another source may name it too
    charges: int = 0
    problem: str = ""


ENTRY_COLUMNS = ["entry_ref", *Entry.__dataclass_fields__]


def frame(entries: list[Entry]) -> pd.DataFrame:
    """The entries as a table, each with `entry_ref`: what identifies it at the bank (see `identities`)."""
    table = pd.DataFrame([asdict(e) for e in entries], columns=ENTRY_COLUMNS[1:])
    return table.assign(entry_ref=identities(table))[ENTRY_COLUMNS]


def identities(table: pd.DataFrame) -> list[str]:
    """Each entry's identity: its account, booking date, amount, direction, the bank's reference where it is a real one,
    the payer's end-to-end id and a digest of its text. The amount counts as money (3892 HUF), not as minor units, so an
    identity never changes with a currency's decimals. Banks reuse references (NONREF, an entry number per day), so a
    reference alone never identifies an entry. Entries alike in all of that within one file (the same payment made twice
    on a day) are told apart by their turn: the second is the second in any download that holds that day, so an
    overlapping download finds the same identities and adds nothing."""
    made, turns = [], {}
    for row in table.itertuples(index=False):
        amount = format(to_decimal(row.amount, row.currency).normalize(), "f") if row.currency in known_currencies() else ""
        key = "|".join([row.account.replace(" ", "").upper(), row.booked_on.isoformat(), amount, row.currency,
                        row.direction, real_reference(row.bank_ref), row.end_to_end, row.problem,
                        " ".join(f"{row.reference} {row.remittance}".split())])
        turns[key] = turns.get(key, 0) + 1
        digest = hashlib.sha256(f"{key}|{turns[key]}".encode()).hexdigest()[:16]
        made.append(f"{row.booked_on:%Y%m%d}-{digest}")
    return made


def real_reference(text: str) -> str:
    """A reference as the bank gives it, or "" where it gives none (NONREF, NOTPROVIDED)."""
    text = text.strip()
    return "" if text.upper().lstrip("/") in NOT_REFERENCES else text


def amount_or_problem(text: str, currency: str) -> tuple[int, str]:
    """The amount as the statement writes it (247.00 or 247,00) in the currency's minor units and "", or 0 and why it
    cannot be counted: a currency that is none, a form no bank writes (1e2, Infinity, -5, 20 digits), zero. Decimals
    beyond the currency's are accepted where they are zeros (1000,00 JPY); a fraction of a cent is not money the ledger
    keeps."""
    written = text.strip()
    if currency not in known_currencies():
        return 0, f"{currency!r} is not an ISO 4217 currency"
    if not _AMOUNT.fullmatch(written):
        return 0, f"{written!r} is not an amount as a bank writes one (digits and one decimal mark, no sign, no exponent)"
    value = Decimal(written.replace(",", ".").rstrip(".") or "0")
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        return 0, f"{written} {currency} has more decimals than the ledger keeps for {currency}"
    if minor == 0:
        return 0, "an entry of 0 moves no money"
    return int(minor), ""
