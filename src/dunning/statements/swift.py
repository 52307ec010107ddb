"""SWIFT MT940 account statements, read with the `mt-940` package: the German structured :86: (?20-?29 purpose, ?32
payer, ?31 IBAN, GVC), the Dutch SEPA form (/EREF/ /NAME/ /REMI/) and the free text other banks write (ING, Knab,
ABN AMRO, PostFinance, mBank), with the payer's name where the text names one.

A return is a reversal of a credit (RC) or, at a German bank, a debit with a return GVC; elsewhere a debit whose text
says it was returned. A reversal of a debit (RD, a fee taken back) is no customer's payment."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import mt940
import mt940.processors
import pandas as pd
from mt940.options import Options

from dunning.errors import InputError
from dunning.statements.entries import CREDIT, DEBIT, RETURN, REVERSAL, Entry, amount_or_problem, frame, real_reference

logging.getLogger("mt940").addHandler(logging.NullHandler())  # the parser logs its patterns; a broken file is one sentence

# German business transaction codes (GVC) of returned direct debits and transfers
RETURN_CODES = {"108", "109", "159", "182", "183", "184"}
# ISO 20022 return reasons as banks write them into the :86: text
REASON = re.compile(r"\b(AC0[1-6]|AC13|AG0[12]|AM0[45]|BE0[45]|CUST|DUPL|FF01|FOCR|FRAD|MD0[1267]|MS0[23]|RC01|"
                    r"RR0[1-4]|SL01|TECH)\b")
RETURN_WORDS = re.compile(r"R(?:Ü|UE|U)CKLASTSCHRIFT|R(?:Ü|UE|U)CK(?:GABE|BUCHUNG|ÜBERWEISUNG)|TERUGBOEKING|STORNERING|"
                          r"\bRETOUR\b|\bRETURN(?:ED)?\b", re.IGNORECASE)
CHARGES = re.compile(r"/CHGS/[A-Z]{3}(\d+,\d*)")
ORIGINAL = re.compile(r"/OCMT/[A-Z]{3}(\d+,\d*)")
_SEPA_FIELD = re.compile(r"/(EREF|NAME|REMI|IBAN|BIC|ORDP|BENM|CSID|MARF|RTRN|USTD|STRD|ISDT|ADDR|CDTRREF|CDTRREFTP)/")
_GERMAN_FIELD = re.compile(r"\?(\d\d)([^?]*)")
_SEPA_KEY = re.compile(r"\b(?:EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|PURP|COAM|OAMT|SQTP|MDAT)\+")
_NAMED = re.compile(r"\b(?:AUFTRAGGEBER|NAAM|NAME|OD|FROM|VON):\s*(.+?)(?:\s{2,}|\s+[A-Z]+:|$)")


def entries(data: bytes, path: Path) -> pd.DataFrame:
    options = Options(applicant_iban=True, reversal_sign=True, case_insensitive_marks=True, merge_keeps_values=True,
                      strip_bom=True)
    try:
        transactions = mt940.parse(_tolerant(data.decode(_encoding(data))), options=options, processors={
            "post_transaction_details": [_keep_raw, mt940.processors.transaction_details_post_processor]})
    except Exception as exc:  # the parser raises plain exceptions of several kinds, with its patterns in the text
        raise InputError(f"{path}: not a readable MT940 statement ({_first_line(exc)})") from None
    account = str(transactions.data.get("account_identification", ""))
    return frame([_entry(t.data, account) for t in transactions])


def _keep_raw(transactions, tag, tag_dict: dict, result: dict) -> dict:
    """The :86: as the bank wrote it, next to what the parser makes of it (which glues the purpose's lines together)."""
    result["raw_details"] = tag_dict.get("transaction_details", "")
    return result


def _entry(data: dict, account: str) -> Entry:
    amount = data["amount"]
    currency = str(data.get("currency") or amount.currency)
    status = str(data.get("status", "")).upper()
    text, payer, end_to_end = _details(data)
    gvc = str(data.get("transaction_code") or "")
    returned = status == "RC" or (status == "D" and (gvc in RETURN_CODES if gvc else bool(RETURN_WORDS.search(text))))
    bounced = status == "C" and gvc in RETURN_CODES  # the merchant's own transfer or debit came back: no customer's payment
    # ?34 holds the return reason only on a return; on other bookings it is the text key's extension
    reason = (str(data.get("return_debit_notes") or "").strip() or (m.group(1) if (m := REASON.search(text)) else "")
              if returned else "")
    direction = RETURN if returned else DEBIT if status == "D" else REVERSAL if status == "RD" or bounced else CREDIT
    value, problem = amount_or_problem(f"{abs(amount.amount)}", currency)
    charges = _charges(str(data.get("extra_details") or ""), value, currency) if returned and not problem else 0
    return Entry(booked_on=data.get("entry_date") or data["date"], currency=currency, direction=direction,
                 amount=value - charges, account=account,
                 bank_ref=real_reference(str(data.get("bank_reference") or "")), end_to_end=end_to_end,
                 remittance=text, payer=payer, payer_iban=str(data.get("applicant_iban") or "").strip(),
                 reason_code=reason[:10], charges=charges, problem=problem)


def _charges(details: str, booked: int, currency: str) -> int:
    """What the bank kept of a returned payment, from the :61: supplementary details: the original amount (/OCMT/)
    where it states it, else its charges (/CHGS/); never all of it."""
    if found := ORIGINAL.search(details):
        original = amount_or_problem(found.group(1), currency)[0]
        return booked - original if 0 < original < booked else 0
    if found := CHARGES.search(details):
        return min(amount_or_problem(found.group(1), currency)[0], booked - 1)
    return 0


def _details(data: dict) -> tuple[str, str, str]:
    """The remittance text, the payer's name and the end-to-end id, from whichever form the bank's :86: has."""
    raw = str(data.get("raw_details") or data.get("transaction_details") or "")
    name = str(data.get("applicant_name") or "").strip()
    end_to_end = real_reference(str(data.get("end_to_end_reference") or ""))
    if _GERMAN_FIELD.search(raw) or name:
        return _german_purpose(raw) or " ".join(str(data.get(k) or "") for k in ("purpose", "additional_purpose")).strip(), \
            name, end_to_end
    if _SEPA_FIELD.search(raw):  # the Dutch SEPA form: one string wrapped at 65 characters, fields between slashes
        fields = dict(_sepa_fields(raw.replace("\n", "")))
        remittance = fields.get("REMI", "")
        remittance = remittance.split("/USTD//", 1)[-1].split("/STRD/", 1)[-1].strip("/ ")
        return remittance, fields.get("NAME", "").strip(), real_reference(fields.get("EREF", ""))
    text = " ".join(raw.split())
    return text, (m.group(1).strip() if (m := _NAMED.search(text.upper())) and len(m.group(1)) < 70 else ""), ""


def _german_purpose(raw: str) -> str:
    """The purpose from ?20-?29 and ?60-?63, each field apart (the parser glues `Rechnung` and `E-10421` together): the
    SEPA remittance (after SVWZ+) where the bank marks it, else the text without the SEPA keys."""
    fields = _GERMAN_FIELD.findall(raw.replace("\r", "").replace("\n", ""))
    text = " ".join(v.strip() for k, v in fields if k[0] == "2" or k in ("60", "61", "62", "63"))
    if "SVWZ+" in text:
        text = _SEPA_KEY.split(text.split("SVWZ+", 1)[1], 1)[0]
    return " ".join(_SEPA_KEY.sub(" ", text).split())


def _sepa_fields(text: str):
    parts = _SEPA_FIELD.split(text)
    for position in range(1, len(parts) - 1, 2):
        yield parts[position], parts[position + 1]


_LONG_OWNER_REF = re.compile(r"^(:61:\d{6}(?:\d{4})?R?[CD][A-Z]?[\d,]+[A-Z][A-Z0-9]{3})((?:(?!//)[^\r\n]){17,})", re.MULTILINE)


def _tolerant(text: str) -> str:
    """Some banks (ASN, SNS) write a reference for the account owner longer than the 16 characters SWIFT allows, which
    the parser refuses: it is cut to 16 (the :86: text still holds it whole)."""
    return _LONG_OWNER_REF.sub(lambda m: m.group(1) + m.group(2)[:16], text)


def _first_line(exc: Exception) -> str:
    """The parser's own sentence, without its patterns or its objects."""
    said = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    text = said.strip().splitlines()[0] if said.strip() else type(exc).__name__
    return re.sub(r"<[^>]*object at 0x[0-9a-f]+>", "a statement", text)[:160]


def _encoding(data: bytes) -> str:
    """UTF-8 where the file is; German banks' MT940 is otherwise ISO 8859-1 (Latin-1)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"
