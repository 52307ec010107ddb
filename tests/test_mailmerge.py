"""Reminder templates rendered with real values in nl, de, fr and en."""
from datetime import date

import pandas as pd
import pytest

from dunning.exports.fields import values
from dunning.mailmerge import TEMPLATE_VARIABLES, Templates


def context(language: str, consequence: str = "", has_fee: bool = False, reminders_sent: int = 2) -> dict:
    frame = pd.DataFrame([dict(order_id="E-1", email="a@example.com", first_name="Anna", last_name="Berg", language=language,
                               product_name="Kurs", currency="EUR", open_amount=14970, paid_amount=0, fee=500,
                               oldest_due_date=date(2026, 11, 2), days_overdue=18, stage="final")])
    frame = frame.astype({"open_amount": "Int64", "paid_amount": "Int64", "fee": "Int64"})
    row = values(frame, "en").iloc[0]
    return {k: row[k] for k in TEMPLATE_VARIABLES} | {
        "shop_name": "Beispiel GmbH", "shop_contact": "help@shop.example", "shop_address": "", "pay_by_text": "", "unsubscribe_url": "",
        "language": row["language"],
        "consequence": consequence, "has_fee": has_fee, "has_interest": False, "has_costs": False, "has_costs_warning": False, "has_other_orders": False,
        "stage_label": "Final notice", "reminders_sent": reminders_sent, "by_post": False}


@pytest.mark.parametrize(("language", "amount", "date_text", "greeting"), [
    ("de", "149,70\xa0€", "02.11.2026", "Guten Tag Anna Berg,"),
    ("nl", "€\xa0149,70", "2 nov 2026", "Beste Anna,"),
    ("fr", "149,70\xa0€", "2 nov. 2026", "Bonjour Anna,"),
    ("en", "€149.70", "Nov 2, 2026", "Hello Anna,"),
])
@pytest.mark.parametrize("stage", ["friendly", "second", "final"])
def test_every_stage_in_every_language(stage, language, amount, date_text, greeting):
    message = Templates().render(stage, language, context(language))
    assert message.text.startswith(greeting)
    assert amount in message.text and date_text in message.text and "E-1" in message.subject + message.text
    assert amount.replace("\xa0", "&nbsp;") in message.html or amount in message.html
    assert f'<html lang="{language}">' in message.html


def test_html_escapes_what_customers_typed():
    data = context("en") | {"first_name": "<script>alert(1)</script>"}
    message = Templates().render("friendly", "en", data)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<script>alert(1)</script>" in message.text


@pytest.mark.parametrize(("consequence", "sentence"), [
    ("cancellation", "we will cancel your order"), ("collection", "collection agency"), ("", None)])
def test_the_final_notice_threatens_only_what_the_policy_says(consequence, sentence):
    message = Templates().render("final", "en", context("en", consequence=consequence))
    threats = ("cancel your order", "collection agency")
    if sentence:
        assert sentence in message.text and sentence in message.html
    else:
        assert not any(t in message.text for t in threats)


def test_the_fee_appears_only_when_there_is_one():
    assert "reminder fee of €5.00" in Templates().render("second", "en", context("en", has_fee=True)).text
    assert "reminder fee" not in Templates().render("second", "en", context("en")).text


def test_missing_language_falls_back_to_the_configured_one():
    templates = Templates(fallback_language="de")
    message = templates.render("friendly", "sv", context("de"))
    assert message.text.startswith("Guten Tag") and templates.names("friendly", "")[0] == "friendly.de.txt.j2"


@pytest.mark.parametrize(("language", "despite"), [
    ("en", "Despite our reminders"), ("de", "trotz unserer Erinnerungen"), ("fr", "Malgré nos rappels"),
    ("nl", "Ondanks onze herinneringen")])
def test_only_a_customer_who_was_reminded_reads_despite_our_reminders(language, despite):
    reminded = Templates().render("final", language, context(language))
    first = Templates().render("final", language, context(language, reminders_sent=0))
    assert despite in reminded.text and despite in reminded.html
    assert despite.lower() not in first.text.lower() and despite.lower() not in first.html.lower()
    assert "E-1" in first.text and "02.11.2026" in Templates().render("final", "de", context("de", reminders_sent=0)).text


def test_a_template_without_html_renders_text_alone(tmp_path):
    (tmp_path / "sms.en.txt.j2").write_text("{% set subject %}Hi{% endset %}Pay {{ open_amount_text }}\n")
    message = Templates(tmp_path, "en").render("sms", "en", context("en"))
    assert message.text.startswith("Pay €149.70") and message.html == "" and message.subject == "Hi"
    assert Templates(tmp_path, "en").names("sms", "de") == ("sms.en.txt.j2", None)


def test_french_typography_puts_a_narrow_no_break_space_before_high_punctuation():
    message = Templates().render("friendly", "fr", context("fr"))
    assert "ici\u202f:" in message.text and "Petit rappel\u202f:" in message.subject and " :" not in message.text
    assert "&middot; " in message.html and "style=\"" in message.html  # entities and markup stay as they are
