"""What the manage page shows of one order in the customer's language: every figure and date as text, worked out once
per request, so that the template only places them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from urllib.parse import quote

from babel.dates import format_date

from dunning import bank
from dunning.mailmerge import pay_by_text
from dunning.manage import OrderView
from dunning.money import format_amount, to_decimal, to_major_string
from dunning.policy import Stage
from dunning.web.texts import TEXTS


@dataclass(frozen=True)
class Transfer:
    """A bank transfer into the shop's account in the order's currency, with its QR code or Swiss QR-bill."""

    beneficiary: str
    iban_groups: list[str]  # in fours, as printed on a card
    bic: str
    reference_groups: list[str]
    qr: str  # inline SVG, or ""
    qr_bill: str


@dataclass(frozen=True)
class OrderPage:
    """One order's manage page in one language ("" where the page shows nothing)."""

    order: OrderView
    hello: str
    rows: list[tuple[str, str, str, str]]  # per installment: due date, amount, paid, open
    fee: str
    interest: str
    costs: str
    paid_since: str
    open_now: str  # what is open now with fees, interest and costs
    next_due: str  # "Next payment, due on <date>", where nothing is open now but an installment is to come
    to_pay: str
    deadline: str
    later: str
    pay_link: str
    pay_link_text: str
    transfer: Transfer | None


def shown_page(order: OrderView, lang: str, *, link: str, accounts: dict[str, bank.Account],
               stages: tuple[Stage, ...]) -> OrderPage:
    """The page of `order` in `lang`: `link` is the shop's payment link pattern ([payment] link), `accounts` the bank
    accounts per currency, `stages` the policy's stages (the last reminder's stage sets the deadline shown)."""
    texts = TEXTS[lang]
    amount = order.to_pay

    def money(minor: int) -> str:
        return format_amount(minor, order.currency, lang)

    def shown(minor: int) -> str:
        return money(minor) if minor else ""

    next_due = order.next_due
    stage = next((s for s in stages if s.name == order.last_stage), None)
    settled = order.settled
    return OrderPage(
        order=order, hello=texts["hello"].format(name=order.first_name or order.last_name),
        rows=[(date_text(i.due_date, lang), money(i.due), money(i.paid), money(i.open)) for i in order.installments],
        fee=shown(order.fee), interest=shown(order.interest), costs=shown(order.costs), paid_since=shown(order.paid_since),
        open_now=shown(order.open_now + order.charged),
        next_due=texts["next_due"].format(date=date_text(next_due.due_date, lang)) if next_due and not settled else "",
        to_pay=money(amount), later=shown(order.open_later),
        deadline="" if settled or order.last_reminded_on is None else pay_by_text(stage, order.last_reminded_on, lang),
        pay_link=_pay_link(link, order, amount), pay_link_text=texts["pay_link"].format(amount=money(amount)),
        transfer=_transfer(accounts.get(order.currency), order, amount, lang),
    )


def _pay_link(link: str, order: OrderView, amount: int) -> str:
    """The shop's payment link for what the page asks, with amount, currency and reference filled in ("" without one)."""
    if not link or not amount:
        return ""
    return link.format(amount=quote(to_major_string(amount, order.currency)), currency=quote(order.currency),
                       reference=quote(bank.creditor_reference(order.order_id, order.order_key)))


def _transfer(account: bank.Account | None, order: OrderView, amount: int, lang: str) -> Transfer | None:
    """A transfer only into an account in the order's currency, and only of something to pay."""
    if account is None or not amount:
        return None
    reference, major = account.reference(order.order_id, order.order_key), to_decimal(amount, order.currency)
    qr = bank.epc_qr_svg(account.beneficiary, account.iban, major, reference, account.bic) \
        if order.currency == "EUR" and not account.swiss else ""
    qr_bill = bank.swiss_qr_bill_svg(account, major, order.currency, order.order_id, order.order_key, lang) if account.swiss else ""
    return Transfer(beneficiary=account.beneficiary, iban_groups=[account.iban[i:i + 4] for i in range(0, len(account.iban), 4)],
                    bic=account.bic, reference_groups=bank.readable_reference(reference).split(), qr=qr, qr_bill=qr_bill)


@lru_cache(maxsize=8192)
def date_text(day: date, lang: str) -> str:
    """A date as the page writes it ("12 Mar 2026", "12.03.2026")."""
    return format_date(day, format="medium", locale=lang)
