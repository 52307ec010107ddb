"""ISO 20022 camt.053 (statement), camt.052 (account report, what online banking exports most) and camt.054
(debit/credit notification), any version, read with defusedxml: no network, no external entities, no entity
expansion. Only booked entries count; an entry that batches several transactions (TxDtls) becomes one entry per
transaction."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element

import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from dunning.errors import InputError
from dunning.statements.entries import CREDIT, DEBIT, RETURN, REVERSAL, Entry, amount_or_problem, frame, real_reference


def entries(data: bytes, path: Path) -> pd.DataFrame:
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise InputError(f"{path}: not a readable camt file ({exc})") from None
    for element in root.iter():
        element.tag = re.sub(r"V\d\d$", "", element.tag.rpartition("}")[2])  # nor the version (camt.05x.001.01: ...V01)
    reports = (root.findall("./BkToCstmrStmt/Stmt") + root.findall("./BkToCstmrAcctRpt/Rpt")
               + root.findall("./BkToCstmrDbtCdtNtfctn/Ntfctn"))
    if not reports:
        raise InputError(f"{path}: a camt file without a statement (BkToCstmrStmt), account report (BkToCstmrAcctRpt) or "
                         "notification (BkToCstmrDbtCdtNtfctn)")
    found: list[Entry] = []
    for report in reports:
        account = _text(report, "Acct/Id/IBAN") or _text(report, "Acct/Id/Othr/Id")
        for number, entry in enumerate(report.findall("Ntry"), start=1):
            if (_text(entry, "Sts/Cd") or _text(entry, "Sts")) not in ("BOOK", ""):
                continue  # pending or informational: not money on the account yet
            found += _transactions(entry, account, _text(report, "CreDtTm"), f"{_text(report, 'Id')} entry {number}", path)
    return frame(found)


def _transactions(entry: Element, account: str, created: str, where: str, path: Path) -> list[Entry]:
    booked = _date(entry, created, where, path)
    debit = _text(entry, "CdtDbtInd") == "DBIT"
    reversal = _text(entry, "RvslInd").lower() == "true"
    details = entry.findall("./NtryDtls/TxDtls") or [Element("TxDtls")]
    made = []
    for tx in details:
        amount_element = tx.find("./Amt") if tx.find("./Amt") is not None else tx.find("./AmtDtls/TxAmt/Amt")
        if amount_element is None or len(details) == 1:
            amount_element = entry.find("./Amt")
        if amount_element is None:
            raise InputError(f"{path}: {where}: no amount (Amt)")
        currency = amount_element.get("Ccy", "")
        reason = _text(tx, "RtrInf/Rsn/Cd")
        direction = (RETURN if reason or reversal else DEBIT) if debit else REVERSAL if reversal else CREDIT
        amount, problem = amount_or_problem(amount_element.text or "", currency)
        charges = 0
        if direction == RETURN and not problem:  # the customer's payment; the bank's charge for the return is the merchant's
            customer = _returned(tx, amount, currency)
            amount, charges = customer, amount - customer
        made.append(Entry(
            booked_on=booked, currency=currency, direction=direction, amount=amount, account=account,
            bank_ref=_text(tx, "Refs/AcctSvcrRef") or _text(entry, "AcctSvcrRef"),
            end_to_end=real_reference(_text(tx, "Refs/EndToEndId")), charges=charges, problem=problem,
            reference=_text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
            remittance=" ".join(u.text.strip() for u in tx.findall("./RmtInf/Ustrd") if u.text)
                       or _text(entry, "AddtlNtryInf"),
            payer=_text(tx, "RltdPties/Dbtr/Nm") or _text(tx, "RltdPties/Dbtr/Pty/Nm"),
            payer_iban=_text(tx, "RltdPties/DbtrAcct/Id/IBAN"), reason_code=reason))
    return made


def _returned(tx: Element, booked: int, currency: str) -> int:
    """The amount of a returned payment without the bank's charges: the amount as instructed where the bank states it,
    else the booked amount less the charges it lists."""
    instructed = tx.find("./AmtDtls/InstdAmt/Amt")
    if instructed is not None and instructed.get("Ccy", currency) == currency:
        amount, problem = amount_or_problem(instructed.text or "", currency)
        if not problem and amount <= booked:
            return amount
    listed = tx.findall("./Chrgs/Rcrd/Amt") or tx.findall("./Chrgs/Amt")
    charges = sum(amount_or_problem(c.text or "", currency)[0] for c in listed if c.get("Ccy", currency) == currency)
    return booked - charges if 0 < charges < booked else booked


def _date(entry: Element, created: str, where: str, path: Path) -> date:
    """The booking date (the value date where a notification gives none, else the day the bank wrote it), with or
    without a time or an offset."""
    text = next((t for t in (_text(entry, "BookgDt/Dt"), _text(entry, "BookgDt/DtTm"), _text(entry, "ValDt/Dt"),
                             _text(entry, "ValDt/DtTm"), created) if t), "")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise InputError(f"{path}: {where}: no booking date (BookgDt) the tool can read: {text!r}") from None


def _text(element: Element, path: str) -> str:
    found = element.find(f"./{path}")
    return (found.text or "").strip() if found is not None else ""
