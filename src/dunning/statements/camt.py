"""ISO 20022 camt.053 (statement) and camt.054 (debit/credit notification), any version, read with
defusedxml: no network, no external entities, no entity expansion. Only booked entries count; an entry
that batches several transactions (TxDtls) becomes one entry per transaction."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element

import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from dunning.errors import InputError
from dunning.statements.entries import CREDIT, DEBIT, RETURN, Entry, frame, minor_units


def entries(data: bytes, path: Path) -> pd.DataFrame:
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise InputError(f"{path}: not a readable camt file ({exc})") from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]  # the version's namespace does not matter here
    reports = root.findall("./BkToCstmrStmt/Stmt") + root.findall("./BkToCstmrDbtCdtNtfctn/Ntfctn")
    if not reports:
        raise InputError(f"{path}: a camt file without a statement (BkToCstmrStmt) or notification (BkToCstmrDbtCdtNtfctn)")
    found: list[Entry] = []
    for report in reports:
        report_id = _text(report, "Id")
        for number, entry in enumerate(report.findall("Ntry"), start=1):
            if (_text(entry, "Sts/Cd") or _text(entry, "Sts")) not in ("BOOK", ""):
                continue  # pending or informational: not money on the account yet
            found += _transactions(entry, f"{report_id}/{number}", path)
    return frame(found)


def _transactions(entry: Element, fallback_ref: str, path: Path) -> list[Entry]:
    booked = _date(entry, path)
    debit = _text(entry, "CdtDbtInd") == "DBIT"
    reversal = _text(entry, "RvslInd").lower() == "true"
    details = entry.findall("./NtryDtls/TxDtls") or [Element("TxDtls")]
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef") or fallback_ref
    made = []
    for number, tx in enumerate(details, start=1):
        amount_element = tx.find("./Amt") if tx.find("./Amt") is not None else tx.find("./AmtDtls/TxAmt/Amt")
        if amount_element is None or len(details) == 1:
            amount_element = entry.find("./Amt")
        if amount_element is None:
            raise InputError(f"{path}: entry {entry_ref}: no amount (Amt)")
        currency = amount_element.get("Ccy", "")
        reason = _text(tx, "RtrInf/Rsn/Cd")
        direction = RETURN if debit and (reason or reversal) else DEBIT if debit or reversal else CREDIT
        ref = _text(tx, "Refs/AcctSvcrRef") or (entry_ref if len(details) == 1 else f"{entry_ref}/{number}")
        amount = minor_units(amount_element.text or "", currency, path, f"entry {ref}")
        if direction == RETURN:  # what the customer's payment was; the bank's charge for the return is the merchant's cost
            amount = _returned(tx, amount, currency, path, ref)
        end_to_end = _text(tx, "Refs/EndToEndId")
        made.append(Entry(
            entry_ref=ref, booked_on=booked, currency=currency, direction=direction, amount=amount,
            end_to_end="" if end_to_end.upper() in ("", "NOTPROVIDED", "NONREF") else end_to_end,
            reference=_text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
            remittance=" ".join(u.text.strip() for u in tx.findall("./RmtInf/Ustrd") if u.text)
                       or _text(entry, "AddtlNtryInf"),
            payer=_text(tx, "RltdPties/Dbtr/Nm") or _text(tx, "RltdPties/Dbtr/Pty/Nm"),
            payer_iban=_text(tx, "RltdPties/DbtrAcct/Id/IBAN"), reason_code=reason))
    return made


def _returned(tx: Element, booked: int, currency: str, path: Path, ref: str) -> int:
    """The amount of a returned payment without the bank's charges: the amount as instructed where the bank states it,
    else the booked amount less the charges it lists."""
    instructed = tx.find("./AmtDtls/InstdAmt/Amt")
    if instructed is not None and instructed.get("Ccy", currency) == currency:
        return minor_units(instructed.text or "", currency, path, f"entry {ref}")
    charges = sum(minor_units(c.text or "", currency, path, f"entry {ref}") for c in tx.findall("./Chrgs/Rcrd/Amt")
                  if c.get("Ccy", currency) == currency)
    charges = charges or sum(minor_units(c.text or "", currency, path, f"entry {ref}") for c in tx.findall("./Chrgs/Amt"))
    return booked - charges if 0 < charges < booked else booked


def _date(entry: Element, path: Path) -> date:
    text = _text(entry, "BookgDt/Dt") or _text(entry, "BookgDt/DtTm")[:10] or _text(entry, "ValDt/Dt")
    try:
        return date.fromisoformat(text)
    except ValueError:
        where = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef") or "without a reference"
        raise InputError(f"{path}: entry {where}: no booking date (BookgDt) the tool can read: {text!r}") from None


def _text(element: Element, path: str) -> str:
    found = element.find(f"./{path}")
    return (found.text or "").strip() if found is not None else ""
