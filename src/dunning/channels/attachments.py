"""What an e-mail reminder can carry besides its text: the Swiss QR-bill of each amount it asks for."""
from __future__ import annotations

import re
from collections.abc import Callable

from dunning import bank
from dunning.channels import Attachment, Outgoing, Payable
from dunning.money import to_decimal


def qr_bills(accounts: dict[str, bank.Account]) -> Callable[[Outgoing], tuple[Attachment, ...]]:
    """Per message: the QR-bill of each order it asks to be paid (a letter lists several) whose currency is paid into a
    Swiss account, as SVG; nothing for the others."""
    def attach(message: Outgoing) -> tuple[Attachment, ...]:
        asked = (Payable(message.order_id, message.order_key, message.amount, message.currency), *message.riding)
        return tuple(bill for payable in asked for bill in _bill(accounts.get(payable.currency), payable, message.language))
    return attach


def _bill(account: bank.Account | None, payable: Payable, language: str) -> tuple[Attachment, ...]:
    if account is None or not account.swiss or payable.amount <= 0:
        return ()
    svg = bank.swiss_qr_bill_svg(account, to_decimal(payable.amount, payable.currency), payable.currency, payable.order_id,
                                 payable.order_key, language)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", payable.order_id).strip("._") or "order"
    return (Attachment(f"qr-bill-{name}.svg", "image/svg+xml", svg.encode("utf-8")),)
