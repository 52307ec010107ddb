"""Bank transfer details: IBAN and BIC checks (python-stdnum), ISO 11649 creditor references, the EPC QR code."""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from stdnum import bic as stdnum_bic, iban as stdnum_iban, iso11649
from stdnum.ch import esr
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

from dunning import epc_qr
from dunning.errors import InputError

def normalise_iban(iban: str) -> str:
    """The IBAN without spaces, in capitals; raises InputError when its country format or check digits are wrong."""
    try:
        return stdnum_iban.validate(iban)
    except ValidationError:
        raise InputError(f"{iban!r} is not a valid IBAN") from None


def check_bic(bic: str) -> str:
    """The BIC in capitals; raises InputError when it is not 8 or 11 characters of the right shape."""
    try:
        return stdnum_bic.validate(bic)
    except ValidationError:
        raise InputError(f"{bic!r} is not a valid BIC") from None


SWISS = ("CH", "LI")  # QR-bill countries: their accounts get a Swiss QR-bill, not an EPC code


@dataclass(frozen=True)
class Account:
    """A bank account customers can pay into, in one currency. A Swiss or Liechtenstein account carries the
    beneficiary's postal address, which its QR-bill must show."""

    beneficiary: str
    iban: str
    bic: str
    address: tuple[tuple[str, str], ...] = ()

    @property
    def swiss(self) -> bool:
        return self.iban[:2] in SWISS

    def reference(self, order_id: str, order_key: int) -> str:
        """The reference a customer writes on the transfer: a QR reference into a QR-IBAN, else the RF reference."""
        return qr_reference(order_id) if is_qr_iban(self.iban) else creditor_reference(order_id, order_key)


def accounts(payment: dict, default_beneficiary: str) -> dict[str, Account]:
    """The shop's accounts per currency from [payment]: `iban`/`bic` in `currency` (default EUR), and one
    [payment.accounts.<CURRENCY>] table per further currency; IBANs, BICs and a Swiss account's address
    (street, house_number, postal_code, city) are checked here."""
    def account(table: dict, where: str) -> Account:
        iban = normalise_iban(table["iban"])
        address = tuple((key, str(table[key])) for key in ADDRESS_KEYS if table.get(key))
        if iban[:2] in SWISS and not {"postal_code", "city"} <= dict(address).keys():
            raise InputError(f"[{where}] a Swiss QR-bill shows the beneficiary's address: set postal_code and city "
                             "(and street, house_number)")
        for key, value in address:
            if iban[:2] in SWISS and (len(value) > ADDRESS_LIMITS[key] or qr_bill_text(value) != value):
                raise InputError(f"[{where}] {key} = {value!r}: a Swiss QR-bill allows at most {ADDRESS_LIMITS[key]} "
                                 "characters of the Latin character set the SIX guidelines permit")
        return Account(str(table.get("beneficiary", payment.get("beneficiary", default_beneficiary))), iban,
                       check_bic(table["bic"]) if table.get("bic") else "", address)

    found = {str(payment.get("currency", "EUR")).upper(): account(payment, "payment")} if payment.get("iban") else {}
    for currency, table in payment.get("accounts", {}).items():
        found[currency.upper()] = account(table, f"payment.accounts.{currency}")
    return found


ADDRESS_KEYS = ("street", "house_number", "postal_code", "city")
ADDRESS_LIMITS = {"street": 70, "house_number": 16, "postal_code": 16, "city": 35}  # SIX IG QR-bill, structured address
# the characters the SIX implementation guidelines permit in a QR-bill (Basic Latin, Latin-1 Supplement, Latin
# Extended-A, Ș ș Ț ț, €)
_QR_BILL_CHARACTERS = re.compile("[^\u0020-\u007e\u00a0-\u017f\u0218-\u021b\u20ac]")


def qr_bill_text(text: str) -> str:
    """A text as a Swiss QR-bill may carry it: a character the guidelines do not permit becomes its Latin letters where
    it has them (ﬁ -> fi, Ł stays), else goes (注文-42 -> -42, № -> No, an emoji goes)."""
    if not _QR_BILL_CHARACTERS.search(text):
        return text
    kept = "".join(c if not _QR_BILL_CHARACTERS.match(c) else _QR_BILL_CHARACTERS.sub("", unicodedata.normalize("NFKD", c))
                   for c in text)
    return " ".join(kept.split())


def creditor_reference(order_id: str, order_key: int) -> str:
    """The ISO 11649 structured creditor reference (RF + two check digits + up to 21 letters and digits) for an order:
    up to 15 of the order id's letters and digits, readable, then the order's number in the ledger in six base-36
    digits. The number makes it unique by construction: two orders never share one, however alike their ids."""
    readable = re.sub(r"[^A-Z0-9]", "", order_id.upper())[:15]
    if not 0 <= order_key < 36**6:
        raise ValueError(f"order number {order_key} does not fit a creditor reference")
    body = readable + "".join(_BASE36[(order_key // 36**i) % 36] for i in reversed(range(6)))
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def earlier_creditor_reference(order_id: str) -> str:
    """The creditor reference pages showed before references carried the order's number (the id's last 17 letters and
    digits and four from a hash): transfers that quote one are still matched, where no other order has it."""
    readable = re.sub(r"[^A-Z0-9]", "", order_id.upper())[-17:]
    digest = int.from_bytes(hashlib.sha256(order_id.encode("utf-8")).digest()[:8], "big")
    body = readable + "".join(_BASE36[(digest // 36**i) % 36] for i in range(4))
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def qr_reference(order_id: str) -> str:
    """The Swiss QR reference (27 digits, the last a recursive mod-10 check digit) for an order: 26 digits from a
    hash of the exact order id, so it is stable and, in practice, never shared by two orders."""
    digest = int.from_bytes(hashlib.sha256(order_id.encode("utf-8")).digest()[:12], "big")
    body = f"{digest % 10**26:026d}"
    return body + esr.calc_check_digit(body)


def readable_reference(reference: str) -> str:
    """A reference as a customer types it: a QR reference in blocks of five from the right (SIX), an RF as it is."""
    return esr.format(reference) if reference.isdigit() else reference


def is_qr_iban(iban: str) -> bool:
    """A Swiss or Liechtenstein QR-IBAN (institution id 30000-31999): payments into it carry a QR reference."""
    return iban[:2] in ("CH", "LI") and 30000 <= int(iban[4:9]) <= 31999


def is_creditor_reference(reference: str) -> bool:
    return iso11649.is_valid(reference)


@lru_cache(maxsize=4096)
def epc_qr_svg(name: str, iban: str, amount: Decimal, reference: str, bic: str = "") -> str:
    """The EPC QR code ("GiroCode") a banking app scans to fill in the transfer, as inline SVG.

    Drawing one takes about 0.14 ms (`epc_qr`: segno's symbol, placed and masked with numpy); a customer's
    next visit reuses it.
    """
    # a viewBox and no fixed size: the page sets the size, and the code scales whole (a phone never crops it)
    return epc_qr.svg(epc_qr.make(name[:70], iban, amount, reference, bic or None), "EPC QR code for the bank transfer")


@lru_cache(maxsize=4096)
def swiss_qr_bill_svg(account: Account, amount: Decimal, currency: str, order_id: str, order_key: int, language: str,
                      debtor: tuple[tuple[str, str], ...] = ()) -> str:
    """The payment part and receipt of a Swiss QR-bill (the `qrbill` package, SIX's implementation guidelines)
    for the order's open amount, with its reference, as inline SVG. `debtor` (name, street, pcode, city, country), where
    a letter knows the customer's address, fills in "Payable by"; one the bill cannot carry leaves the box to the hand."""
    import qrbill  # with its drawing libraries, loaded only where a Swiss bill is drawn

    address = dict(account.address)
    fields = dict(
        account=account.iban, currency=currency, amount=f"{amount:.2f}", reference_number=account.reference(order_id, order_key),
        creditor={"name": qr_bill_text(account.beneficiary)[:70], "street": address.get("street", ""),
                  "house_num": address.get("house_number", ""), "pcode": address["postal_code"], "city": address["city"],
                  "country": account.iban[:2]},
        additional_information=qr_bill_text(order_id)[:140], language=language if language in ("de", "fr", "it", "en") else "en",
    )
    try:
        bill = qrbill.QRBill(**fields, debtor={k: qr_bill_text(v) for k, v in debtor} if debtor else None)
    except ValueError:
        bill = qrbill.QRBill(**fields)
    buffer = io.StringIO()
    bill.as_svg(buffer)
    return re.sub(r"^<\?xml[^>]*>\s*", "", buffer.getvalue())
