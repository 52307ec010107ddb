"""Reminder campaigns: a definition in campaigns/<name>.toml, prepared into the store, then sent."""
from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from jinja2 import Environment, PackageLoader, TemplateError, select_autoescape

from dunning import cancellations, confirmations, letters, mailmerge, pipeline, postal, reminders, tokens
from dunning.journal import queue
from dunning.statements import booking
from dunning.channels.select import CHANNELS
from dunning.sources.rejects import REJECT_COLUMNS
from dunning.config import Settings
from dunning.errors import InputError
from dunning.exports.fields import values as field_values
from dunning.exclusions import Filters
from dunning.policy import CONFIRMATION, NOTICES
from dunning.report_texts import TEXTS
from dunning.journal.store import Store
from dunning.journal.tables import campaigns as campaigns_table, reminders as reminders_table

DEFAULT_CONNECTIONS, MAX_CONNECTIONS = 4, 20  # most mail servers take a few connections from one client
_PREVIEW = Environment(loader=PackageLoader("dunning", "templates/preview"), autoescape=select_autoescape(("j2",)))
_FILTER_KEYS = {"kinds", "payment_methods", "products", "currencies", "min_days", "min_amount"}


@dataclass(frozen=True)
class Campaign:
    """One campaign definition."""

    name: str
    path: Path
    stage: str
    channel: str
    input_file: Path
    profile: str | None
    payments_file: Path | None
    payments_profile: str | None
    filters: Filters
    sender: str
    reply_to: str
    subjects: dict[str, str]
    rate_per_minute: int
    channel_settings: dict = field(default_factory=dict)
    source: str = ""
    attach_qr_bill: bool = False
    attach_invoice: bool = False  # a notice before a due date: the term's invoice as a PDF (an e-mail channel)
    confirm_within_days: int = 14  # a confirmation campaign: payments of the last days only
    connections: int = DEFAULT_CONNECTIONS  # a channel that sends one message at a time: how many at once


def load(name: str, settings: Settings) -> Campaign:
    """campaigns/<name>.toml in the workspace (or a path); every key is checked with a clear message."""
    path = Path(name) if name.endswith(".toml") else settings.root / "campaigns" / f"{name}.toml"
    if not path.is_file():
        raise InputError(f"no campaign {name!r}: {path} does not exist")
    text = path.read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    where = f"{path}:"
    stage = data.get("stage")
    if stage not in settings.policy.stage_names() + list(NOTICES):
        raise InputError(f"{where} stage must be one of {', '.join(settings.policy.stage_names() + list(NOTICES))}, not {stage!r}")
    within = data.get("confirm_within_days", 14)
    if not isinstance(within, int) or isinstance(within, bool) or within < 0:
        raise InputError(f"{where} confirm_within_days must be a whole number of days, 0 or more")
    channel = data.get("channel", "outbox")
    if channel not in CHANNELS:
        raise InputError(f"{where} channel must be one of {', '.join(CHANNELS)}, not {channel!r}")  # built in or added
    source = data.get("input", {})
    if "file" not in source:
        raise InputError(f"{where} [input] needs file = the order export to read")
    base = path.parent
    sender = data.get("sender", {})
    if not sender.get("from"):
        raise InputError(f"{where} [sender] needs from = \"Shop name <billing@shop.example>\"")
    rate = data.get("rate_per_minute", 120)
    if not isinstance(rate, int) or rate <= 0:
        raise InputError(f"{where} rate_per_minute must be a whole number above 0")
    connections = data.get("connections", DEFAULT_CONNECTIONS)
    if not isinstance(connections, int) or isinstance(connections, bool) or not 1 <= connections <= MAX_CONNECTIONS:
        raise InputError(f"{where} connections must be a whole number from 1 to {MAX_CONNECTIONS}")
    return Campaign(
        name=str(data.get("name", path.stem)), path=path, stage=stage, channel=channel,
        input_file=(base / source["file"]).resolve(), profile=source.get("profile"),
        payments_file=(base / source["payments"]).resolve() if source.get("payments") else None,
        payments_profile=source.get("payments_profile"), filters=_filters(data.get("filters", {}), where),
        sender=str(sender["from"]), reply_to=str(sender.get("reply_to", "")),
        subjects={str(k): str(v) for k, v in data.get("subject", {}).items()}, rate_per_minute=rate,
        channel_settings=dict(data.get(channel, {})), source=text, attach_qr_bill=_flag(data, "attach_qr_bill", where),
        attach_invoice=_flag(data, "attach_invoice", where),
        confirm_within_days=within, connections=connections,
    )


def listed(settings: Settings, store: Store) -> list[dict]:
    """Every campaign of the workspace (campaigns/*.toml) and every one the store holds: its stage and channel, and how
    many of its reminders are prepared, sending, sent and failed."""
    defined = {p.stem: p for p in sorted((settings.root / "campaigns").glob("*.toml"))}
    with store.engine.connect() as db:
        held = {r.name: r for r in db.execute(sa.select(campaigns_table.c.id, campaigns_table.c.name, campaigns_table.c.stage,
                                                        campaigns_table.c.channel, campaigns_table.c.as_of)).all()}
        counts = db.execute(sa.select(reminders_table.c.campaign_id, reminders_table.c.status, sa.func.count())
                            .group_by(reminders_table.c.campaign_id, reminders_table.c.status)).all()
    by_id: dict[int, dict[str, int]] = {}
    for campaign_id, status, n in counts:
        by_id.setdefault(campaign_id, {})[status] = n
    rows = []
    for name in sorted(set(defined) | set(held)):
        row = held.get(name)
        stage, channel = (row.stage, row.channel) if row else _stage_and_channel(defined[name])
        rows.append({"campaign": name, "stage": stage, "channel": channel, "file": str(defined[name]) if name in defined else "",
                     "prepared_on": row.as_of.isoformat() if row else "", **(by_id.get(row.id, {}) if row else {})})
    return rows


def _stage_and_channel(path: Path) -> tuple[str, str]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "?", "?"
    return str(data.get("stage", "?")), str(data.get("channel", "outbox"))


def _flag(data: dict, key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"{where} {key} must be true or false")
    return value


def _filters(data: dict, where: str) -> Filters:
    unknown = set(data) - _FILTER_KEYS
    if unknown:
        raise InputError(f"{where} [filters] has unknown key(s) {', '.join(sorted(unknown))}")
    try:
        minimum = Decimal(str(data["min_amount"])) if "min_amount" in data else None
    except InvalidOperation:
        raise InputError(f"{where} [filters] min_amount is not an amount") from None
    return Filters(
        kinds=tuple(data.get("kinds", ())), payment_methods=tuple(data.get("payment_methods", ())),
        products=tuple(data.get("products", ())), currencies=tuple(c.upper() for c in data.get("currencies", ())),
        min_days=int(data.get("min_days", 0)), min_amount=minimum,
    )


@dataclass
class Prepared:
    """What prepare did."""

    campaign_id: int
    added: int
    already_reminded: int
    other_stage: int
    excluded: pd.DataFrame
    rejects: pd.DataFrame
    unreachable: list[dict] = field(default_factory=list)  # order_id and reason: due, but the channel cannot reach them


def prepare(campaign: Campaign, settings: Settings, store: Store, as_of: date, keys: list[str],
            on_step: Callable[[str], None] = lambda text: None) -> Prepared:
    """Select the overdue orders due for the campaign's stage (judged with the ledger: payments from every
    source, the stage after the last one sent, the cooldown), render every message (a template error
    stops here, before anything is stored), record the batch and the orders' links in the ledger."""
    tokens.require_keys(keys)
    existing = store.campaign(campaign.name)
    if existing and existing.stage != campaign.stage:
        raise InputError(f"campaign {campaign.name} was prepared for stage {existing.stage}; give the new stage another campaign name")
    with store.writing() as db:  # what the run learns, the batch and the links: one transaction (an error keeps none)
        found = pipeline.find_overdue(
            settings, store, campaign.input_file, as_of=as_of, payments=campaign.payments_file, profile=campaign.profile,
            payments_profile=campaign.payments_profile, filters=campaign.filters, on_step=on_step, db=db,
        )
        booking.rematch(store, db, as_of, settings.match_window_days)
        if campaign.stage in NOTICES:  # a notice is of what this run records (payments, decisions)
            due = (confirmations.due(db, as_of, campaign.confirm_within_days) if campaign.stage == CONFIRMATION
                   else cancellations.due(db, as_of))
            chosen = _chosen(campaign, _addressed(due, found.export.orders), db)
            rows = _rendered(campaign, settings, chosen[0], keys, as_of, on_step)
        else:
            chosen = _chosen(campaign, _addressed(found.at_stage((campaign.stage,)), found.export.orders), db)
            customers = found.export.orders.set_index("order_id")["customer_id"] if "customer_id" in found.export.orders else None
            rows = _rendered(campaign, settings, chosen[0], keys, as_of, on_step, customers)
        campaign_id, added = _stored(db, campaign, as_of, rows)
    fresh, unreachable, already, other_stage = chosen
    rejects = pd.concat([r for r in (found.rejects, unreachable) if not r.empty] or [found.rejects], ignore_index=True)
    return Prepared(campaign_id, added, already, other_stage, found.result.excluded, rejects,
                    [{"order_id": r.row, "reason": r.reason} for r in unreachable.itertuples()])


def _chosen(campaign: Campaign, orders: pd.DataFrame, db) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """The orders due for the campaign's stage that hold no message of it yet and that its channel can reach; those it
    cannot reach; how many had the message already; how many were due for another stage."""
    at_stage = orders[orders["stage"] == campaign.stage]
    held = queue.reminded(db)
    held = held[held["stage"] == campaign.stage]
    done = set(zip(held["order_id"], held["about"]))  # a notice is per installment (about = due:<date>)
    fresh = at_stage[pd.Series([key not in done for key in zip(at_stage["order_id"], at_stage["about"])], index=at_stage.index,
                               dtype=bool)]
    fresh, unreachable = _reachable(fresh, campaign)
    return fresh, unreachable, len(at_stage) - len(fresh) - len(unreachable), len(orders) - len(at_stage)


def _rendered(campaign: Campaign, settings: Settings, fresh: pd.DataFrame, keys: list[str], as_of: date,
              on_step: Callable[[str], None], customers: pd.Series | None = None) -> list[dict]:
    on_step(f"rendering {len(fresh)} messages")
    linked = tokens.add_links(fresh, settings.signer(keys), settings.link_template)
    return _render_all(campaign, settings, linked, as_of, customers)


def _stored(db, campaign: Campaign, as_of: date, rows: list[dict]) -> tuple[int, int]:
    campaign_id = queue.create_campaign(db, campaign.name, campaign.stage, campaign.channel, as_of, campaign.source)
    return campaign_id, queue.add_reminders(db, campaign_id, rows)


def _addressed(orders: pd.DataFrame, export: pd.DataFrame) -> pd.DataFrame:
    """The orders with the postal address the export gives each (`postal.stored`; "" where none)."""
    export = export[export["order_id"].isin(orders["order_id"])]  # only the orders at hand, not the whole export
    addresses = pd.Series(postal.stored(export).to_numpy(), index=export["order_id"].to_numpy(), dtype=object)
    return orders.assign(postal_address=addresses.reindex(orders["order_id"]).fillna("").to_numpy())


def _reachable(orders: pd.DataFrame, campaign: Campaign) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The orders the campaign's channel can reach; a channel that sends e-mail leaves out (and reports) those
    without an e-mail address, one that sends letters those without a postal address. The reader accepts them:
    another channel, or the manage page, may reach them."""
    factory = CHANNELS.get(campaign.channel)
    if getattr(factory, "needs_postal_address", False):
        missing = orders["postal_address"] == ""
        column, why = "address_line1", f"no postal address (street and city), and the channel {campaign.channel} sends letters"
    elif getattr(factory, "needs_email", True):
        missing = orders["email"].fillna("") == ""
        column, why = "email", f"no e-mail address, and the channel {campaign.channel} sends e-mail"
    else:
        return orders, pd.DataFrame(columns=REJECT_COLUMNS)
    rejected = pd.DataFrame({"file": "overdue orders", "row": orders.loc[missing, "order_id"], "column": column,
                             "reason": why, "value": ""}, columns=REJECT_COLUMNS)
    return orders[~missing], rejected


def _render_all(campaign: Campaign, settings: Settings, frame: pd.DataFrame, as_of: date,
                customers: pd.Series | None = None) -> list[dict]:
    """One stored row per order: rendered subject, text and HTML in the customer's language. Where the policy says so,
    a customer's orders go out together (`letter` names them): a channel that sends each message gets one letter whose
    first order carries it and the stage's fee; a tool that writes the messages from its contacts (Mailchimp) gets one
    row per address whose first order carries the others in `other_orders_text`. The others ride along."""
    templates = settings.templates()
    stage = settings.policy.stage_named(campaign.stage)
    shop = settings.section("shop")
    together = stage in settings.policy.dunning_stages and settings.policy.one_letter_per_customer  # reminders, not notices
    factory = CHANNELS.get(campaign.channel)
    batch, by_post = getattr(factory, "batch", False), getattr(factory, "needs_postal_address", False)
    frame = frame.assign(letter=letters.keys(frame, customers) if together and not batch else "")
    riding = (frame["letter"] != "") & frame.duplicated("letter")
    frame["fee"] = frame["fee"].where(~riding, 0)  # one fee per letter
    values = field_values(frame, settings.fallback_language, templates.languages())
    contacts = getattr(factory, "contacts", None)
    if together and batch and contacts is not None:  # the tool writes the message: one per address, with its other orders
        values, carriers, _ = letters.together(values, pd.Series(True, index=values.index), contacts.fits)
        frame["letter"], riding = letters.keys_of(carriers), carriers.notna()
        frame["fee"] = frame["fee"].where(~riding, 0)
    subject_templates = {lang: templates.env.from_string(text) for lang, text in campaign.subjects.items()}
    pairs = list(zip(frame.to_dict("records"), values.to_dict("records"), riding.to_numpy()))
    members: dict[str, list[tuple[dict, dict]]] = {}
    for order, value, _ in pairs:
        if order["letter"] and not batch:
            members.setdefault(order["letter"], []).append((order, value))
    rows, tone = [], letters.tone(settings.policy, stage)
    for order, value, rides in pairs:
        if order["letter"] and not batch:
            if order["letter"] in members:  # the letter's first order: the whole letter, in the customer's place in line
                rows.extend(_letter_rows(order["letter"], members.pop(order["letter"]), templates, stage, tone, shop, as_of,
                                         by_post))
            continue
        if rides:  # the tool's message for the address carries it (other_orders_text of the letter's first order)
            rows.append(reminders.row(order, value) | {"subject": "", "letter": order["letter"], "body_text": "", "body_html": ""})
            continue
        context = mailmerge.context(value, language=value["language"], stage=stage, stage_name=stage.name,
                                    shop_name=shop.get("name", ""), shop_contact=shop.get("contact", ""),
                                    shop_address=str(shop.get("address", "")),
                                    pay_by_text=mailmerge.pay_by_text(stage, as_of, value["language"]), asked=mailmerge.asks(value),
                                    reminders_sent=int(order["reminders_sent"]), still_open=int(order["open_amount"]) > 0,
                                    by_post=by_post)
        message = templates.render(campaign.stage, value["language"], context)
        subject = message.subject
        if value["language"] in subject_templates:
            try:
                subject = subject_templates[value["language"]].render(context)
            except TemplateError as exc:
                raise InputError(f"{campaign.path}: [subject] {value['language']}: {exc}") from None
        rows.append(reminders.row(order, value) | {"subject": subject, "letter": order["letter"], "body_text": message.text,
                                                   "body_html": message.html})
    return rows


def _letter_rows(key: str, members: list[tuple[dict, dict]], templates, stage, tone: str, shop: dict, as_of: date,
                 by_post: bool) -> list[dict]:
    """The rows of one letter: the first order's carries the message, the others ride along with none of their own."""
    language = members[0][1]["language"]
    context = letters.context([o for o, _ in members], [v for _, v in members], language=language, stage=stage, tone_word=tone,
                              shop=shop, pay_by_text=mailmerge.pay_by_text(stage, as_of, language), by_post=by_post)
    message = templates.render(letters.TEMPLATE, language, context)
    return [reminders.row(order, value) | {"subject": message.subject, "letter": key,
                                           "body_text": message.text if place == 0 else "",
                                           "body_html": message.html if place == 0 else ""}
            for place, (order, value) in enumerate(members)]


def messages(rows: list) -> list:
    """Of a campaign's reminders, those that carry a message: the orders that ride along in a letter have none."""
    return [row for row in rows if not row.letter or row.body_text]


def preview_html(campaign: Campaign, rows: list, language: str, stage_label: str) -> str:
    """One self-contained page in the merchant's language showing each message's envelope, HTML (in a sandboxed frame
    tall enough for the whole message) and text (`rows`: the campaign's `messages`)."""
    texts = TEXTS.get(language, TEXTS["en"])
    return _PREVIEW.get_template("page.html.j2").render(
        t=texts, language=language if language in TEXTS else "en", campaign=campaign, rows=rows, stage=stage_label,
        height=_frame_height)


def _frame_height(text: str) -> int:
    """Pixels for a frame that shows the whole HTML message (a sandboxed frame cannot size itself): the text's lines,
    wrapped as a phone wraps them, plus the button, margins and footer."""
    lines = sum(1 + len(line) // 40 for line in text.splitlines())
    return 260 + 26 * lines
