"""Reminder templates: a jinja2 environment over the merchant's templates and the shipped ones."""
from __future__ import annotations

import re
import traceback
from datetime import date, timedelta
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date
from jinja2 import (
    ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, TemplateError,
    TemplateNotFound, select_autoescape,
)

from dunning.errors import InputError
from dunning.languages import typeset
from dunning.policy import Stage

TEMPLATE_VARIABLES = (
    "first_name", "last_name", "order_id", "product_name", "open_amount_text", "paid_amount_text", "fee_text",
    "interest_text", "costs_text", "costs_warning_text", "other_orders_text", "due_date_text", "days_overdue", "manage_url", "link_expires_text",
    "order_date_text",
)
LETTER_VARIABLES = ("orders", "totals_text", "tone")  # a letter for several orders (dunning.letters): its own variables
LINES = ("fee", "interest", "costs", "costs_warning", "other_orders")  # what a message says beyond its order: `<line>_text`
SHOP_VARIABLES = ("shop_name", "shop_contact", "shop_address", "consequence", *(f"has_{line}" for line in LINES), "language",
                  "stage_label",
                  "reminders_sent", "pay_by_text", "unsubscribe_url", "still_open", "by_post")


def pay_by_text(stage: Stage | None, reminded_on: date, language: str) -> str:
    """The stage's payment deadline after a reminder of `reminded_on`, in words of the language ("" where none)."""
    if stage is None or not stage.pay_within_days:
        return ""
    return _long_date(reminded_on + timedelta(days=stage.pay_within_days), language or "en")


@lru_cache(maxsize=4096)
def _long_date(day: date, language: str) -> str:
    """A date in words ("20. November 2026"): a manage page at a stage with a deadline writes one at every view."""
    return format_date(day, format="long", locale=language)


def asks(fields: Mapping[str, object]) -> frozenset[str]:
    """The lines (LINES) a customer's message carries: those whose text is not empty. Messages that differ in them are
    different templates in a tool, so that nobody reads about a fee, interest or costs of nothing."""
    return frozenset(line for line in LINES if fields.get(f"{line}_text"))


def context(fields: Mapping[str, object], *, language: str, stage: Stage | None, stage_name: str, shop_name: str,
            shop_contact: str, asked: frozenset[str], reminders_sent: int, shop_address: str = "", pay_by_text: str = "",
            unsubscribe_url: str = "", still_open: bool = False, by_post: bool = False) -> dict:
    """The one template context of a reminder: its merge fields (a customer's values, or a tool's merge tags)
    and what the shop and the stage say. `reminders_sent` counts the reminders this customer had before;
    `unsubscribe_url` is the tool's unsubscribe link where it needs one in the message (Mailchimp's *|UNSUB|*);
    `still_open` tells a payment confirmation whether something is left to pay; `by_post`, that the message is printed
    and posted (it asks for a letter, not a reply to an e-mail)."""
    return {key: fields[key] for key in TEMPLATE_VARIABLES} | {
        "shop_name": shop_name, "shop_contact": shop_contact, "shop_address": shop_address, "language": language,
        "consequence": stage.consequence if stage else "", **{f"has_{line}": line in asked for line in LINES},
        "stage_label": stage.label if stage else stage_name, "reminders_sent": reminders_sent, "pay_by_text": pay_by_text,
        "unsubscribe_url": unsubscribe_url, "still_open": still_open, "by_post": by_post,
    }


@dataclass(frozen=True)
class Message:
    """One rendered reminder (`html` is empty where the template has no HTML twin)."""

    subject: str
    text: str
    html: str


class Templates:
    """Finds `<stage>.<language>.txt.j2` and `.html.j2`: the merchant's folder first, then the shipped ones."""

    def __init__(self, override_dir: Path | None = None, fallback_language: str = "en"):
        loaders = [FileSystemLoader(str(override_dir))] if override_dir and override_dir.is_dir() else []
        loaders.append(PackageLoader("dunning", "templates/reminders"))
        self.env = Environment(
            loader=ChoiceLoader(loaders), undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            keep_trailing_newline=True, auto_reload=False,  # a run renders thousands: no stat() per message
        )
        self.fallback_language = fallback_language
        self._names: dict[tuple[str, str], tuple[str, str | None]] = {}

    def languages(self) -> set[str]:
        """Every language some reminder template is written in (the merchant's and the shipped ones)."""
        found = (re.fullmatch(r"[^.]+\.([a-z]{2,3})\.txt\.j2", name) for name in self.env.list_templates())
        return {match.group(1) for match in found if match}

    def names(self, stage: str, language: str) -> tuple[str, str | None]:
        """The text template name for a stage, in the language or else the fallback language, and its HTML twin
        (None where there is none: a channel that is not e-mail needs no HTML); looked up once per pair."""
        if (stage, language) not in self._names:
            self._names[(stage, language)] = self._find(stage, language)
        return self._names[(stage, language)]

    def _find(self, stage: str, language: str) -> tuple[str, str | None]:
        for lang in dict.fromkeys((language or self.fallback_language, self.fallback_language)):
            text, html = f"{stage}.{lang}.txt.j2", f"{stage}.{lang}.html.j2"
            if self._exists(text):
                return text, html if self._exists(html) else None
        raise InputError(
            f"no reminder template for stage {stage!r} in {language or self.fallback_language!r} or "
            f"{self.fallback_language!r} (looked for {stage}.<language>.txt.j2)"
        )

    def render(self, stage: str, language: str, context: dict) -> Message:
        """Subject, text and HTML of one reminder; a template error names the file and line."""
        text_name, html_name = self.names(stage, language)
        try:
            module = self.env.get_template(text_name).make_module(context)
            subject = " ".join(str(getattr(module, "subject", "")).split())
            text = str(module)
            html = self.env.get_template(html_name).render({**context, "subject": subject}) if html_name else ""
        except TemplateError as exc:
            raise InputError(self._describe(exc, text_name)) from None
        language = text_name.split(".")[1]
        return Message(subject=typeset(subject, language), text=typeset(text, language), html=typeset(html, language))

    def _exists(self, name: str) -> bool:
        try:
            self.env.get_template(name)
        except TemplateNotFound:
            return False
        except TemplateError as exc:
            raise InputError(self._describe(exc, name)) from None
        return True

    def _describe(self, exc: TemplateError, fallback_name: str) -> str:
        """'template friendly.de.txt.j2, line 3: 'amount' is undefined'."""
        name, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
        if not line:
            for frame in reversed(traceback.extract_tb(exc.__traceback__)):
                if frame.filename.endswith(".j2"):
                    name, line = frame.filename, frame.lineno
                    if frame.name == "root" or frame.name.startswith("block_"):
                        # compiled template code: map its Python line back to the template line
                        line = self.env.get_template(Path(name).name).get_corresponding_lineno(line)
                    break
        where = Path(name).name if name else fallback_name
        return f"template {where}" + (f", line {line}" if line else "") + f": {exc.message or exc}"
