"""RFC 5322 messages (multipart text + HTML) with headers that cannot be injected into.

`as_bytes` is what a channel hands to the server. A reminder to a plain ASCII address without attachments
(nearly all of them) is written straight to bytes: the headers encoded by the standard library's RFC 2047
encoder, each body as quoted-printable, the parts in a fixed multipart/alternative layout. That is over
twenty times cheaper than building an `EmailMessage` and reads back the same (tested by parsing both).
Everything else (an address beyond ASCII, a QR-bill attached) is built as an `EmailMessage`.
"""
from __future__ import annotations

import binascii
from email import charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from functools import lru_cache

from dunning.channels import Outgoing, PermanentFailure
from dunning.journal.sql import now

_BOUNDARY = "=_dunning_alternative"  # "=_" never occurs in quoted-printable text: no body can hold the boundary
_UTF8_BASE64 = charset.Charset("utf-8")
_UTF8_BASE64.header_encoding = charset.BASE64  # linear to split into words (quoted-printable's is quadratic)


def build(message: Outgoing) -> EmailMessage:
    """The e-mail for one reminder; a header value with a line break is refused, never sent. An address
    with non-ASCII characters (jürgen.müller@...) makes an internationalised message (RFC 6532)."""
    international = not (address_of(message.sender) + message.to).isascii()
    mail = EmailMessage(policy=SMTPUTF8 if international else SMTP)
    try:
        mail["From"] = message.sender
        user, _, domain = message.to.rpartition("@")  # by parts: Address refuses a non-ASCII addr_spec whole
        mail["To"] = Address(display_name=_one_line(message.to_name), username=user, domain=domain)
        mail["Subject"] = _one_line(message.subject)
        if message.reply_to:
            mail["Reply-To"] = message.reply_to
        mail["Message-ID"] = message.message_id
        mail["Date"] = format_datetime(now())
        if message.list_unsubscribe:
            mail["List-Unsubscribe"] = message.list_unsubscribe
    except (ValueError, IndexError) as exc:
        raise PermanentFailure(f"cannot build the message headers: {exc}") from None
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    mail["Content-Language"] = message.language  # after the body: set_content clears Content-* headers
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return mail


def as_bytes(message: Outgoing) -> bytes:
    """The message as sent: CRLF line ends, dated now."""
    if message.attachments or not (address_of(message.sender) + message.to).isascii():
        return build(message).as_bytes()
    try:
        return _written(message)
    except UnicodeEncodeError:  # a header beyond ASCII where none is expected: the email package decides
        return build(message).as_bytes()


def _written(message: Outgoing) -> bytes:
    """A multipart/alternative message (or a single text part) to an ASCII address, written directly."""
    try:
        headers = [
            ("From", _address(message.sender)),
            ("To", formataddr((_one_line(message.to_name), message.to), charset="utf-8")),
            ("Subject", _encoded(_one_line(message.subject))),
            *([("Reply-To", _address(message.reply_to))] if message.reply_to else []),
            ("Message-ID", _checked(message.message_id)),
            ("Date", format_datetime(now())),
            *([("List-Unsubscribe", _checked(message.list_unsubscribe))] if message.list_unsubscribe else []),
            ("MIME-Version", "1.0"),
        ]
        language = _checked(message.language)
    except ValueError as exc:
        raise PermanentFailure(f"cannot build the message headers: {exc}") from None
    text = _part("plain", message.text)
    if not message.html:
        return _lines(headers) + b"Content-Language: " + language.encode("ascii") + b"\r\n" + text
    return (_lines([*headers, ("Content-Type", f'multipart/alternative; boundary="{_BOUNDARY}"'), ("Content-Language", language)])
            + b"\r\n--" + _BOUNDARY.encode("ascii") + b"\r\n" + text
            + b"\r\n--" + _BOUNDARY.encode("ascii") + b"\r\n" + _part("html", message.html)
            + b"\r\n--" + _BOUNDARY.encode("ascii") + b"--\r\n")


def _part(subtype: str, body: str) -> bytes:
    """One text part: its headers and its body as quoted-printable UTF-8, ending in a line end."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(lines.encode("utf-8") + (b"" if lines.endswith("\n") else b"\n"), istext=True)
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            .encode("ascii") + encoded.replace(b"\n", b"\r\n"))


def _lines(headers: list[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")


@lru_cache(maxsize=64)
def _address(text: str) -> str:
    """An address header as configured ("Shop <billing@shop.example>"), its name encoded where it is not ASCII."""
    name, address = parseaddr(_checked(text))
    if not address.isascii():
        raise ValueError(f"the address {address!r} is not ASCII")
    return formataddr((name, address), charset="utf-8")


def _encoded(text: str) -> str:
    """A header value, RFC 2047-encoded where it is not ASCII, folded to lines of 78 characters."""
    if text.isascii() and len(text) <= 68:  # fits on the header's line as it is
        return text
    header = Header(text, "us-ascii" if text.isascii() else _UTF8_BASE64, header_name="Subject")
    return header.encode(linesep="\r\n")


def _checked(value: str) -> str:
    """A header value as given; a line break in it (a header injected) is refused."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"a line break in {value!r}")
    return value


@lru_cache(maxsize=64)
def address_of(header: str) -> str:
    """The address in an address header as configured ("Shop <billing@shop.example>" -> billing@shop.example)."""
    return parseaddr(header)[1]


def message_id(campaign_id: int, reminder_id: int, sender: str) -> str:
    """A Message-ID that stays the same when a reminder is sent again, so a duplicate can be recognised."""
    domain = address_of(sender).rpartition("@")[2] or "dunning.invalid"
    return f"<dunning.{campaign_id}.{reminder_id}@{domain}>"


@lru_cache(maxsize=64)
def unsubscribe_header(reply_to: str, sender: str) -> str:
    """List-Unsubscribe as a mailto: link to the shop's reply address."""
    address = (getaddresses([reply_to or sender]) or [("", "")])[0][1]
    return f"<mailto:{address}?subject=unsubscribe>" if address else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
