"""One customer, one letter: a customer's orders due for the same stage go out as one message that lists every order
with its own signed link, and what is open per currency. Orders belong to one customer where the export's customer id
says so, else where they share an e-mail address. The letter's first order carries the message and the stage's fee
(one fee per letter); each order keeps its own reminder in the ledger, its own link and its own page."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import pandas as pd

from dunning import mailmerge
from dunning.money import format_amount
from dunning.policy import LETTER as TEMPLATE, Policy, Stage  # letter.<language>.txt.j2 (and .html.j2)

ASKED = ("open_amount", "fee", "fees_open", "interest", "interest_open", "costs", "costs_open")  # what a reminder asks
LINE_COLUMNS = {"fee": ("fee", "fees_open"), "interest": ("interest", "interest_open"), "costs": ("costs", "costs_open"),
                "costs_warning": ("costs_warning",)}


def keys(orders: pd.DataFrame, customer_ids: pd.Series | None) -> pd.Series:
    """Per order (same index): the key of its letter, shared by the orders of one customer, unique to this run (a letter
    prepared later never joins an earlier one); "" for an order alone in its letter."""
    ids = (customer_ids.reindex(orders["order_id"]).fillna("").astype(str).str.strip().to_numpy() if customer_ids is not None
           else [""] * len(orders))
    ids = pd.Series(ids, index=orders.index, dtype="string")
    email = orders["email"].fillna("").astype("string").str.strip().str.lower()
    who = ("customer:" + ids).where(ids != "", ("email:" + email).where(email != "", ""))
    shared = (who != "") & (who.map(who.value_counts()) > 1)
    run = uuid.uuid4().hex[:12]
    return pd.Series([f"{run}-{hashlib.sha256(w.encode('utf-8')).hexdigest()[:24]}" if together else ""
                      for w, together in zip(who, shared)], index=orders.index, dtype=object)  # no address in the ledger


def together(values: pd.DataFrame, usable: pd.Series, fits: Callable[[str], bool]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """One row per address where a tool keeps one contact per address (a second row would overwrite the first one's
    fields, and the customer would read one reminder while two count as sent). The first usable row of an address (the
    most overdue) carries the others of its stage in `other_orders_text`, each with what is open and its own link, as
    far as `fits` (the tool's limit for a field) allows. Returns the values; per row that rides along, the row that
    carries it (the others: NA); and the rows that do not fit (they wait: for the next export, or the next round of a
    campaign)."""
    address = values["email"].str.strip().str.lower().where(usable)
    first = usable & ~address.duplicated(keep="first")
    carrier = pd.Series(values.index[first], index=address[first].to_numpy())
    text = {index: "" for index in values.index[first]}
    riding = pd.Series(pd.NA, index=values.index, dtype="Int64")
    held = pd.Series(False, index=values.index)
    for index in values.index[usable & ~first]:
        row = values.loc[index]
        line = f"{row['order_id']} ({row['product_name']}): {row['open_amount_text']}, {row['due_date_text']} {row['manage_url']}"
        lead = carrier[address[index]]
        joined = f"{text[lead]} | {line}" if text[lead] else line
        if row["stage"] == values.at[lead, "stage"] and fits(joined):  # a message speaks of one stage
            text[lead] = joined
            riding[index] = lead
        else:
            held[index] = True
    values = values.copy()
    values.loc[list(text), "other_orders_text"] = list(text.values())
    return values, riding, held


def keys_of(carriers: pd.Series) -> pd.Series:
    """Letter keys from `together`'s carriers: a row that rides along and the row that carries it share one, unique to
    this run; "" for the others."""
    run = uuid.uuid4().hex[:12]
    riding = carriers.dropna()
    key = pd.Series("", index=carriers.index, dtype=object)
    key[riding.index] = [f"{run}-{int(c)}" for c in riding]
    key[list(dict.fromkeys(int(c) for c in riding))] = [f"{run}-{c}" for c in dict.fromkeys(int(c) for c in riding)]
    return key


def tone(policy: Policy, stage: Stage) -> str:
    """How a letter speaks at this stage: "first" (friendly), "last" (the final notice), else "middle"."""
    names = [s.name for s in policy.dunning_stages]
    if stage.name not in names or names.index(stage.name) == 0:
        return "first"
    return "last" if names.index(stage.name) == len(names) - 1 else "middle"


def context(orders: list[dict], values: list[dict], *, language: str, stage: Stage, tone_word: str, shop: dict,
            pay_by_text: str, by_post: bool = False) -> dict:
    """The template context of one letter: the customer, each order with its link, and per currency the total and each
    line beyond the open amounts (fees, interest, costs), as text in the letter's language."""
    currencies = list(dict.fromkeys(o["currency"] for o in orders))

    def per_currency(columns: tuple[str, ...]) -> str:
        sums = {c: sum(int(o.get(k) or 0) for o in orders if o["currency"] == c for k in columns) for c in currencies}
        return _joined([format_amount(v, c, language) for c, v in sums.items() if v > 0], language)

    lines = {line: per_currency(columns) for line, columns in LINE_COLUMNS.items()}
    first = values[0]
    return {
        "first_name": first["first_name"], "last_name": first["last_name"], "language": language, "tone": tone_word,
        "orders": [{"order_id": v["order_id"], "product_name": v["product_name"], "open_amount_text": v["open_amount_text"],
                    "due_date_text": v["due_date_text"], "manage_url": v["manage_url"]} for v in values],
        "totals_text": per_currency(ASKED), "link_expires_text": first["link_expires_text"],
        **{f"{line}_text": text for line, text in lines.items()}, **{f"has_{line}": bool(lines.get(line)) for line in mailmerge.LINES},
        "reminders_sent": min(int(o["reminders_sent"]) for o in orders), "consequence": stage.consequence,
        "pay_by_text": pay_by_text, "shop_name": shop.get("name", ""), "shop_contact": shop.get("contact", ""),
        "shop_address": str(shop.get("address", "")), "unsubscribe_url": "", "by_post": by_post,
    }


_AND = {"de": "und", "fr": "et", "nl": "en"}


def _joined(parts: list[str], language: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {_AND.get(language, 'and')} {parts[-1]}"
