"""RFC 5322 messages (multipart text + HTML) with headers that cannot be injected into."""
from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, getaddresses, parseaddr

from dunning.channels import Outgoing, PermanentFailure
from dunning.store import now


def build(message: Outgoing) -> EmailMessage:
    """The e-mail for one reminder; a header value with a line break is refused, never sent. An address
    with non-ASCII characters (jürgen.müller@...) makes an internationalised message (RFC 6532)."""
    international = not (parseaddr(message.sender)[1] + message.to).isascii()
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


def message_id(campaign_id: int, reminder_id: int, sender: str) -> str:
    """A Message-ID that stays the same when a reminder is sent again, so a duplicate can be recognised."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "dunning.invalid"
    return f"<dunning.{campaign_id}.{reminder_id}@{domain}>"


def unsubscribe_header(reply_to: str, sender: str) -> str:
    """List-Unsubscribe as a mailto: link to the shop's reply address."""
    address = (getaddresses([reply_to or sender]) or [("", "")])[0][1]
    return f"<mailto:{address}?subject=unsubscribe>" if address else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
