"""What the ledger stores of a reminder, whatever its channel; and the hand-over to a newsletter tool."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd

from dunning import tokens
from dunning.exports.fields import FIELD_KEYS
from dunning.exports.fields import values as field_values
from dunning.store import Store


def row(order: dict, value: dict) -> dict:
    """One reminder for the store: the order's figures at the time, and the merge fields it carried
    (`value` is the order's row of `exports.fields.values`). Campaigns add the rendered message."""
    return {
        "order_id": order["order_id"], "stage": order["stage"], "email": value["email"],
        "first_name": value["first_name"], "last_name": value["last_name"], "language": value["language"],
        "currency": order["currency"], "open_amount": int(order["open_amount"]), "fee": int(order["fee"]),
        "reason": order["reason"], "payment_method": order["payment_method"] or "", "days_overdue": int(order["days_overdue"]),
        "token_id": tokens.token_id(order["token"]),
        "merge_fields": json.dumps({key: str(value[key]) for key in FIELD_KEYS if key != "due_date"}
                                   | {"due_date": value["due_date"].date().isoformat(),
                                      "reminders_sent": int(order["reminders_sent"])}, ensure_ascii=False),
    }


def hand_over(store: Store, linked: pd.DataFrame, order_ids: list[str], *, tool: str, path: Path, as_of: date,
              fallback_language: str) -> int:
    """Record the rows of an export file as reminders handed to a newsletter tool, sent on `as_of`: the cooldown,
    the next stage and the recovery report then know of them. Returns how many were recorded."""
    rows = linked[linked["order_id"].isin(order_ids)]
    if rows.empty:
        return 0
    name = f"export:{path.name}"
    existing = store.campaign(name)
    stages = ",".join(sorted(set(rows["stage"])))
    campaign_id = existing.id if existing else store.create_campaign(name, stages[:50], f"export:{tool}", as_of, str(path))
    values = field_values(rows, fallback_language)
    records = [row(o, v) | {"subject": "", "body_text": "", "body_html": "", "message_id": path.name}
               for o, v in zip(rows.to_dict("records"), values.to_dict("records"))]
    return store.add_reminders(campaign_id, records, handed_over_on=as_of)
