"""What an e-mail reminder can carry besides its text: the Swiss QR-bill of the amount it asks for."""
from __future__ import annotations

import re
from collections.abc import Callable

from dunning import bank
from dunning.channels import Attachment, Outgoing
from dunning.money import to_decimal


def qr_bills(accounts: dict[str, bank.Account]) -> Callable[[Outgoing], tuple[Attachment, ...]]:
    """Per message: its QR-bill as SVG where the order's currency is paid into a Swiss account, else nothing."""
    def attach(message: Outgoing) -> tuple[Attachment, ...]:
        account = accounts.get(message.currency)
        if account is None or not account.swiss or message.amount <= 0:
            return ()
        svg = bank.swiss_qr_bill_svg(account, to_decimal(message.amount, message.currency), message.currency,
                                     message.order_id, message.order_key, message.language)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", message.order_id).strip("._") or "order"
        return (Attachment(f"qr-bill-{name}.svg", "image/svg+xml", svg.encode("utf-8")),)
    return attach
