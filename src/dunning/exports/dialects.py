"""How each newsletter tool wants its import file and writes its placeholders.

Each dialect names the columns so the tool's importer maps them (or so the marketer sees at a
glance what to map), picks the delimiter, encoding and date format its importer reads, and
writes the reminder template's placeholders in the tool's merge-tag syntax. Sources are cited
per dialect; where a tool's documentation is silent, the choice is said to be ours.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from babel import Locale

from dunning.errors import InputError
from dunning.exports.fields import FIELD_KEYS
from dunning.plugins import Registry


@dataclass(frozen=True)
class Dialect:
    """One newsletter tool's import format and merge-tag syntax."""

    name: str
    title: str
    headers: dict[str, str]
    merge_names: dict[str, str]
    placeholder: Callable[[str], str]
    delimiter: str = ","
    encoding: str = "utf-8"
    date_format: str = "%Y-%m-%d"
    max_text_bytes: int | None = None
    max_text_chars: int | None = None
    address_rules: tuple[AddressRule, ...] = ()
    decimal: str = "."
    tags_header: str | None = None
    full_name_header: str | None = None
    unsubscribe: str = ""
    field_ids_setting: str = ""
    built_in_fields: frozenset[str] = frozenset()
    one_contact_per_address: bool = True  # an import keeps one contact per address: a second row overwrites the first
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def tag(self, key: str) -> str:
        """The placeholder for one export field, as pasted into this tool's editor."""
        return self.placeholder(self.merge_names[key])

    def fits(self, text: str) -> bool:
        """Whether a text fits one of the tool's fields whole."""
        if self.max_text_bytes:
            return len(text.encode("utf-8")) <= self.max_text_bytes
        return not self.max_text_chars or len(text) <= self.max_text_chars

    def refused_addresses(self, emails: pd.Series) -> pd.Series:
        """Why the tool would refuse each address ("" where it takes it), by its documented rules."""
        why = pd.Series("", index=emails.index, dtype="string")
        for rule in self.address_rules:
            why = why.mask((why == "") & emails.str.contains(rule.pattern, regex=True).fillna(False).astype(bool),
                           rule.reason)
        return why


@dataclass(frozen=True)
class AddressRule:
    """An address the tool refuses: those matching `pattern` (a regular expression), and why."""

    pattern: str
    reason: str


def _custom(names: dict[str, str], **builtins: str) -> dict[str, str]:
    return {**names, **builtins}


# Mailchimp: "Email Address", "First Name" and "Last Name" are mapped by the importer; merge tags
# are upper-case letters, digits and underscores, at most 10 characters; text fields hold at most
# 255 bytes; dates other than birthdays as YYYY-MM-DD; tags in one column, comma-separated.
_MAILCHIMP_TAGS = {
    "order_id": "ORDERID", "product_name": "PRODUCT", "open_amount": "OPENAMT", "open_amount_text": "OPENTEXT",
    "paid_amount": "PAIDAMT", "paid_amount_text": "PAIDTEXT", "fee_text": "FEETEXT", "interest_text": "INTTEXT", "costs_text": "COSTTEXT", "costs_warning_text": "COSTWARN", "other_orders_text": "OTHERORD", "currency": "CURRENCY",
    "due_date": "DUEDATE", "due_date_text": "DUETEXT", "days_overdue": "DAYSOVER", "stage": "STAGE",
    "language": "LANGUAGE", "token": "TOKEN", "manage_url": "MANAGEURL", "link_expires_text": "LINKEXP",
    "order_date": "ORDERDATE", "order_date_text": "ORDDATETXT",
}
MAILCHIMP = Dialect(
    name="mailchimp", title="Mailchimp",
    headers=_custom(_MAILCHIMP_TAGS, email="Email Address", first_name="First Name", last_name="Last Name"),
    merge_names=_custom(_MAILCHIMP_TAGS, email="EMAIL", first_name="FNAME", last_name="LNAME"),
    placeholder=lambda name: f"*|{name}|*",
    max_text_bytes=255, tags_header="Tags", unsubscribe="*|UNSUB|*",
    address_rules=(AddressRule(r"^[^@]*[^\x00-\x7f][^@]*@",
                               "Mailchimp does not take characters beyond ASCII before the @ of an address"),),
    sources=(
        "https://mailchimp.com/help/format-guidelines-for-your-import-file/",
        "https://mailchimp.com/developer/marketing/docs/merge-fields/",
        "https://mailchimp.com/help/international-characters-in-mailchimp/",
    ),
    notes=("Create the audience fields with the merge tags named in the header (text fields; "
           "OPENAMT, PAIDAMT and DAYSOVER may be number fields, DUEDATE a date field in YYYY-MM-DD).",),
)

# ActiveCampaign: the importer maps "Email", "First Name", "Last Name"; a custom field's
# personalization tag is its name in capitals with underscores (%OPEN_AMOUNT%); a "Tags" column
# takes comma-separated tags.
_AC_TITLES = {
    "order_id": "Order ID", "product_name": "Product", "open_amount": "Open Amount", "open_amount_text": "Open Amount Text",
    "paid_amount": "Paid Amount", "paid_amount_text": "Paid Amount Text", "fee_text": "Fee Text", "interest_text": "Interest Text", "costs_text": "Costs Text",
    "costs_warning_text": "Costs Warning Text", "other_orders_text": "Other Orders", "currency": "Currency",
    "due_date": "Due Date", "due_date_text": "Due Date Text", "days_overdue": "Days Overdue", "stage": "Stage",
    "language": "Language", "token": "Token", "manage_url": "Manage URL", "link_expires_text": "Link Expires",
    "order_date": "Order Date", "order_date_text": "Order Date Text",
}
ACTIVECAMPAIGN = Dialect(
    name="activecampaign", title="ActiveCampaign",
    headers=_custom(_AC_TITLES, email="Email", first_name="First Name", last_name="Last Name"),
    merge_names=_custom({k: v.upper().replace(" ", "_") for k, v in _AC_TITLES.items()},
                        email="EMAIL", first_name="FIRSTNAME", last_name="LASTNAME"),
    placeholder=lambda name: f"%{name}%",
    tags_header="Tags",
    sources=("ActiveCampaign Help Center: 'Import contacts into ActiveCampaign' and 'Personalization tags'",),
    notes=("Create the custom fields with the names in the header; their personalization tags are "
           "the names in capitals with underscores, as used in the template.",),
)

# GetResponse: UTF-8; comma, semicolon or tab; the "email" column is assigned automatically and a
# "name" column maps to the Name field ([[firstname]] and [[lastname]] are taken from it); other
# headers that match custom field names are assigned too; custom text values are clipped at 255
# characters; date custom fields in YYYY-MM-DD; addresses longer than 128 characters or with one of
# !#$%^&()|\, (or a space) are a syntax error.
_GR_NAMES = {
    "order_id": "order_id", "product_name": "product", "open_amount": "open_amount", "open_amount_text": "open_amount_text",
    "paid_amount": "paid_amount", "paid_amount_text": "paid_amount_text", "fee_text": "fee_text", "interest_text": "interest_text", "costs_text": "costs_text",
    "costs_warning_text": "costs_warning_text", "other_orders_text": "other_orders", "currency": "currency",
    "due_date": "due_date", "due_date_text": "due_date_text", "days_overdue": "days_overdue", "stage": "stage",
    "language": "language", "token": "token", "manage_url": "manage_url", "link_expires_text": "link_expires",
    "order_date": "order_date", "order_date_text": "order_date_text",
}
GETRESPONSE = Dialect(
    name="getresponse", title="GetResponse",
    headers=_custom(_GR_NAMES, email="email"),
    merge_names=_custom(_GR_NAMES, email="email", first_name="firstname", last_name="lastname"),
    placeholder=lambda name: f"[[{name}]]",
    max_text_chars=255, full_name_header="name",
    address_rules=(AddressRule(r"^.{129,}$", "GetResponse takes addresses of at most 128 characters"),
                   AddressRule(r"[!#$%^&()|\\, ]", "GetResponse refuses addresses with any of !#$%^&()|\\, or a space")),
    sources=(
        "https://www.getresponse.com/help/how-do-i-prepare-a-file-for-import.html",
        "https://support.getresponse.com/faq/what-types-of-lists-can-i-import",
        "GetResponse FAQ 'What types of lists can I import?' (UTF-8, date custom fields as YYYY-MM-DD)",
    ),
    notes=("Create custom fields named like the headers (lower case) before importing so they are assigned.",),
)

# Brevo: headers are attribute names in capitals (EMAIL, FIRSTNAME, LASTNAME are defaults);
# semicolon, comma or tab; UTF-8 or Windows-1252; the API's CSV body uses semicolons.
_BREVO_NAMES = {k: v.upper() for k, v in _GR_NAMES.items()}
BREVO = Dialect(
    name="brevo", title="Brevo",
    headers=_custom(_BREVO_NAMES, email="EMAIL", first_name="FIRSTNAME", last_name="LASTNAME"),
    merge_names=_custom(_BREVO_NAMES, email="EMAIL", first_name="FIRSTNAME", last_name="LASTNAME"),
    placeholder=lambda name: f"{{{{ contact.{name} }}}}",
    delimiter=";",
    sources=(
        "https://help.brevo.com/hc/en-us/articles/208729849-Create-a-file-to-import-your-contacts",
        "https://developers.brevo.com/reference/importcontacts-1",
    ),
    notes=("An account set up in German names the default name attributes VORNAME and NACHNAME: set "
           "[exports.brevo_attributes] in dunning.toml (first_name = \"VORNAME\", last_name = \"NACHNAME\").",
           "Import DUE_DATE as a text attribute or as a date in YYYY-MM-DD.",),
)

# KlickTipp: placeholders %Subscriber:EmailAddress%, %Subscriber:CustomFieldFirstName% and
# %Subscriber:CustomFieldLastName%; other fields are %Subscriber:CustomField<name or id>%, and
# the settings map our fields to your field ids. The import maps columns by hand. Semicolons and
# Windows-1252 are our choice: what German Excel writes and opens (use --encoding utf-8 if your
# data has characters Windows-1252 cannot hold).
_KT_NAMES = {
    "order_id": "OrderId", "product_name": "Product", "open_amount": "OpenAmount", "open_amount_text": "OpenAmountText",
    "paid_amount": "PaidAmount", "paid_amount_text": "PaidAmountText", "fee_text": "FeeText", "interest_text": "InterestText", "costs_text": "CostsText",
    "costs_warning_text": "CostsWarningText", "other_orders_text": "OtherOrders", "currency": "Currency",
    "due_date": "DueDate", "due_date_text": "DueDateText", "days_overdue": "DaysOverdue", "stage": "Stage",
    "language": "Language", "token": "Token", "manage_url": "ManageUrl", "link_expires_text": "LinkExpires",
    "order_date": "OrderDate", "order_date_text": "OrderDateText",
}
KLICKTIPP = Dialect(
    name="klicktipp", title="KlickTipp",
    headers=_custom(_KT_NAMES, email="E-Mail", first_name="Vorname", last_name="Nachname"),
    merge_names=_custom(_KT_NAMES, email="EmailAddress", first_name="FirstName", last_name="LastName"),
    placeholder=lambda name: f"%Subscriber:{name}%" if name == "EmailAddress" else f"%Subscriber:CustomField{name}%",
    delimiter=";", encoding="cp1252", date_format="%d.%m.%Y",
    field_ids_setting="exports.klicktipp_field_ids", built_in_fields=frozenset({"EmailAddress", "FirstName", "LastName"}),
    sources=("KlickTipp placeholder syntax as documented for its e-mail editor (%Subscriber:CustomFieldFirstName%, "
             "%Subscriber:EmailAddress%, %Subscriber:CustomField[NAME]%)",),
    notes=("Create a custom field per column and set its numeric id in [exports.klicktipp_field_ids] in "
           "dunning.toml: the template addresses your fields by id (the export stops when one it uses has none).",),
)

# CleverReach: UTF-8 CSV (recommended so umlauts arrive intact), no line breaks in headers; the
# e-mail column is required and other columns are mapped to the list's fields by hand;
# placeholders are field names in capitals in braces ({FIRSTNAME}). Comma is our choice.
_CR_NAMES = dict(_GR_NAMES) | {"product_name": "product"}
CLEVERREACH = Dialect(
    name="cleverreach", title="CleverReach",
    headers=_custom(_CR_NAMES, email="email", first_name="firstname", last_name="lastname"),
    merge_names=_custom({k: v.upper() for k, v in _CR_NAMES.items()}, email="EMAIL", first_name="FIRSTNAME", last_name="LASTNAME"),
    placeholder=lambda name: f"{{{name}}}",
    sources=("https://support.cleverreach.com/hc/en-us/articles/202372861-Importing-your-recipient-lists",),
    notes=("Create list fields named like the headers; CleverReach writes them as {NAME} in capitals.",),
)

GENERIC = Dialect(
    name="generic", title="any other tool",
    headers={key: key for key in FIELD_KEYS},
    merge_names={key: key for key in FIELD_KEYS},
    placeholder=lambda name: f"{{{{{name}}}}}", one_contact_per_address=False,
    notes=("Placeholders are written {{field}}; replace them with your tool's syntax.",),
)

DIALECTS: Registry[Dialect] = Registry("tool", "dunning.dialects")
for _dialect in (MAILCHIMP, KLICKTIPP, ACTIVECAMPAIGN, GETRESPONSE, BREVO, CLEVERREACH, GENERIC):
    DIALECTS.register(_dialect.name, _dialect)


def get(name: str) -> Dialect:
    """The dialect of a tool (built in, registered, or from an installed package); an unknown name lists them."""
    return DIALECTS.get(name)


def excel_delimiter(language: str) -> str:
    """The list separator Excel uses for a language: ';' where numbers are written with a decimal comma."""
    return ";" if Locale.parse(language or "en").number_symbols["latn"]["decimal"] == "," else ","


def decimal_symbol(language: str) -> str:
    """The decimal mark numbers are written with in a language ('.' or ',')."""
    return Locale.parse(language or "en").number_symbols["latn"]["decimal"]


def for_excel(dialect: Dialect, language: str) -> Dialect:
    """The dialect as Excel opens it in that language: UTF-8 with a byte-order mark (else Excel garbles € and
    umlauts), the language's list separator (else German Excel puts every column into one) and its decimal mark
    (else German Excel reads 1234.50 as text)."""
    return Dialect(**{**vars(dialect), "encoding": "utf-8-sig", "delimiter": excel_delimiter(language),
                      "decimal": decimal_symbol(language)})


def with_field_ids(dialect: Dialect, ids: dict[str, str]) -> Dialect:
    """KlickTipp with the merchant's numeric custom field ids in its placeholders."""
    if not ids:
        return dialect
    names = dict(dialect.merge_names) | _known(ids, dialect, "klicktipp_field_ids")
    return Dialect(**{**vars(dialect), "merge_names": names})


def with_attributes(dialect: Dialect, attributes: dict[str, str]) -> Dialect:
    """Brevo with the account's own attribute names (a German account's VORNAME, NACHNAME) as headers and in its
    placeholders."""
    if not attributes:
        return dialect
    named = {key: value.upper() for key, value in _known(attributes, dialect, "brevo_attributes").items()}
    bad = [value for value in named.values() if not re.fullmatch(r"[A-Z0-9_]{1,50}", value)]
    if bad:
        raise InputError(f"[exports.brevo_attributes]: {bad[0]!r} is not a Brevo attribute name (letters, digits and _)")
    return Dialect(**{**vars(dialect), "headers": dict(dialect.headers) | named,
                      "merge_names": dict(dialect.merge_names) | named})


def _known(names: dict[str, str], dialect: Dialect, setting: str) -> dict[str, str]:
    unknown = set(names) - set(dialect.merge_names)
    if unknown:
        raise InputError(f"[exports.{setting}] names unknown fields: {', '.join(sorted(unknown))}")
    return {key: str(value) for key, value in names.items()}
