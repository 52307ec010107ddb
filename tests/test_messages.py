"""The bytes a channel hands to the server: the direct writer reads back as the EmailMessage it stands for."""
import email
import email.policy

import pytest
from hypothesis import given, settings, strategies as st

from dunning.channels import Attachment, Outgoing, PermanentFailure
from dunning.channels.email import as_bytes, build

HEADERS = ("From", "To", "Subject", "Reply-To", "Message-ID", "List-Unsubscribe", "Content-Language")
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=400)
one_line = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120)


def outgoing(**changes) -> Outgoing:
    values = dict(reminder_id=7, order_id="O-7", to="kim@example.com", to_name="Kim Lee", subject="Reminder: order O-7",
                  text="Hello Kim,\n\nplease pay.\n", html="<p>Hello Kim,</p>", sender="Shop <billing@shop.example>",
                  reply_to="help@shop.example", message_id="<dunning.1.7@shop.example>",
                  list_unsubscribe="<mailto:help@shop.example?subject=unsubscribe>", language="de")
    return Outgoing(**(values | changes))


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def body(message: email.message.EmailMessage, kind: str) -> str | None:
    part = message.get_body((kind,))
    return None if part is None else part.get_content().replace("\r\n", "\n").rstrip("\n")


@settings(max_examples=150, deadline=None)
@given(name=one_line, subject=one_line, plain=text, html=text, sender_name=one_line)
def test_the_written_bytes_read_back_as_the_built_message(name, subject, plain, html, sender_name):
    message = outgoing(to_name=name, subject=subject, text=plain, html=html,
                       sender=email.utils.formataddr((sender_name.strip() or "Shop", "billing@shop.example")))
    written, built = parsed(as_bytes(message)), parsed(build(message).as_bytes())
    assert written["Subject"] == " ".join(subject.split()) and written["To"].addresses[0].display_name == " ".join(name.split())
    # the email package's folding may put a space between two encoded words of one name: equal but for white space
    assert all("".join(str(written[h]).split()) == "".join(str(built[h]).split()) for h in HEADERS if built[h] is not None)
    # a bare CR is no line end in a message (RFC 5322): the writer makes it one, as mail servers do
    assert body(written, "plain") == body(built, "plain").replace("\r", "\n")
    assert body(written, "html") == (body(built, "html").replace("\r", "\n") if html else None)
    assert all(len(line) <= 998 for line in as_bytes(message).split(b"\r\n"))
    assert b"\n" not in as_bytes(message).replace(b"\r\n", b"")  # every line ends in CRLF


def test_a_line_break_in_a_configured_header_is_refused():
    with pytest.raises(PermanentFailure, match="line break"):
        as_bytes(outgoing(reply_to="help@shop.example\r\nBcc: victim@example.com"))


def test_an_address_beyond_ascii_or_an_attachment_goes_through_the_email_package():
    assert "To: Kim Lee <jürgen@example.de>".encode() in as_bytes(outgoing(to="jürgen@example.de"))  # RFC 6532
    attached = parsed(as_bytes(outgoing(attachments=(Attachment("bill.svg", "image/svg+xml", b"<svg/>"),))))
    assert [p.get_filename() for p in attached.iter_attachments()] == ["bill.svg"]
