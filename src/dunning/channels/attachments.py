"""What an e-mail reminder can carry besides its text: the Swiss QR-bill of each amount it asks for, and a notice before
a due date the term's invoice."""
from __future__ import annotations

from collections.abc import Callable

from dunning import bank
from dunning.channels import Attachment, Outgoing, Payable, printed
from dunning.files import safe_name
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
    return (Attachment(f"qr-bill-{safe_name(payable.order_id)}.svg", "image/svg+xml", svg.encode("utf-8")),)


def invoices(letterhead: printed.Letterhead, accounts: dict[str, bank.Account]) -> Callable[[Outgoing], tuple[Attachment, ...]]:
    """Per message: for a notice before a due date to an order with a postal address, the term's invoice as a PDF;
    nothing for the others."""
    def attach(message: Outgoing) -> tuple[Attachment, ...]:
        if not message.about.startswith("due:") or not message.postal_address or message.amount <= 0:
            return ()
        data = printed.pdf(message, letterhead, accounts, with_text=False)
        return (Attachment(f"invoice-{safe_name(printed.invoice_number(message), 'invoice')}.pdf", "application/pdf", data),)
    return attach


def both(*attachers: Callable[[Outgoing], tuple[Attachment, ...]]) -> Callable[[Outgoing], tuple[Attachment, ...]]:
    """The attachments of each, in turn."""
    return lambda message: tuple(a for attach in attachers for a in attach(message))
