"""What a statement file says about itself, read apart from the tool's readers: the change of the account's balance
over each statement (MT940 :60F:/:60M: to :62F:/:62M:, camt opening to closing booked balance) and the entries' count
where the file states it. The entries the tool reads must add up to it."""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from xml.etree.ElementTree import fromstring

_MT940_BALANCE = re.compile(r"^:(6[02])[FM]:([CD])\d{6}([A-Z]{3})([\d,]+)", re.MULTILINE)


def balance_change(path: Path) -> dict[str, Decimal] | None:
    """Closing minus opening balance per currency, summed over the file's statements; None where it states none."""
    data = path.read_bytes()
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _camt(data)
    changes: dict[str, Decimal] = {}
    for tag, mark, currency, amount in _MT940_BALANCE.findall(data.decode("latin-1")):
        value = Decimal(amount.replace(",", ".")) * (1 if mark == "C" else -1)
        changes[currency] = changes.get(currency, Decimal(0)) + (value if tag == "62" else -value)
    return changes or None


def _camt(data: bytes) -> dict[str, Decimal] | None:
    root = fromstring(data)
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    changes: dict[str, Decimal] = {}
    for report in root.iter():
        if report.tag not in ("Stmt", "Rpt"):
            continue
        found = {}
        for balance in report.findall("Bal"):
            code = balance.findtext("Tp/CdOrPrtry/Cd")
            amount = balance.find("Amt")
            sign = -1 if balance.findtext("CdtDbtInd") == "DBIT" else 1
            found[code] = (amount.get("Ccy"), Decimal(amount.text) * sign)
        opening = found.get("OPBD") or found.get("PRCD")
        closing = found.get("CLBD")
        if not (opening and closing):
            return None
        changes[closing[0]] = changes.get(closing[0], Decimal(0)) + closing[1] - opening[1]
    return changes or None
