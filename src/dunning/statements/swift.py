"""SWIFT MT940 account statements, as many German banks still deliver them, read with the `mt-940` package
(structured :86: sub-fields split, ?31 kept as the payer's IBAN, reversals signed as debits).

MT940 has no reference that is unique across statements for every entry: the bank's reference (:61: after
//) is used where present, else one derived from the account, the statement number and the entry's place
in it, so the same statement imported twice gives the same references."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import mt940
import pandas as pd
from mt940.options import Options

from dunning.errors import InputError
from dunning.statements.entries import CREDIT, DEBIT, RETURN, Entry, frame, minor_units

# German business transaction codes (GVC) of returned direct debits and transfers
RETURN_CODES = {"108", "109", "159", "182", "183", "184"}
# ISO 20022 return reasons as banks write them into the :86: text
REASON = re.compile(r"\b(AC0[1-6]|AC13|AG0[12]|AM0[45]|BE0[45]|CUST|DUPL|FF01|FOCR|FRAD|MD0[1267]|MS0[23]|RC01|"
                    r"RR0[1-4]|SL01|TECH)\b")


def entries(data: bytes, path: Path) -> pd.DataFrame:
    options = Options(applicant_iban=True, reversal_sign=True, case_insensitive_marks=True, merge_keeps_values=True)
    try:
        transactions = mt940.parse(data, encoding=_encoding(data), options=options)
    except Exception as exc:  # the parser raises plain exceptions of several kinds for a broken file
        raise InputError(f"{path}: not a readable MT940 statement ({exc})") from None
    account = str(transactions.data.get("account_identification", ""))
    statement = str(transactions.data.get("statement_number", ""))
    found = []
    for number, transaction in enumerate(transactions, start=1):
        found.append(_entry(transaction.data, account, statement, number, path))
    return frame(found)


def _entry(data: dict, account: str, statement: str, number: int, path: Path) -> Entry:
    amount = data["amount"]
    currency = str(amount.currency)
    text = " ".join(str(data.get(k) or "") for k in ("purpose", "additional_purpose")).strip()
    reason = str(data.get("return_debit_notes") or "").strip() or (m.group(1) if (m := REASON.search(text)) else "")
    status = str(data.get("status", "")).upper()
    returned = status == "RC" or (status == "D" and (reason or str(data.get("transaction_code", "")) in RETURN_CODES))
    direction = RETURN if returned else DEBIT if status in ("D", "RC") else CREDIT
    bank_ref = str(data.get("bank_reference") or "").strip()
    ref = bank_ref or "mt940:" + hashlib.sha1(f"{account}|{statement}|{number}|{data.get('date')}|{amount.amount}".encode()).hexdigest()[:20]
    return Entry(entry_ref=ref, booked_on=data.get("entry_date") or data["date"], currency=currency, direction=direction,
                 amount=minor_units(str(abs(amount.amount)), currency, path, f"entry {number}"),
                 remittance=text, payer=str(data.get("applicant_name") or "").strip(),
                 payer_iban=str(data.get("applicant_iban") or "").strip(), reason_code=reason)


def _encoding(data: bytes) -> str:
    """UTF-8 where the file is; German banks' MT940 is otherwise ISO 8859-1 (Latin-1)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"
