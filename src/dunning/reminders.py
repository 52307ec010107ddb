"""What the ledger stores of a reminder, whatever its channel."""
from __future__ import annotations

import json

import pandas as pd

from dunning import tokens
from dunning.exports.fields import FIELD_KEYS
from dunning.policy import CANCELLATION


ORDER_COLUMNS = ("order_id", "stage", "about", "currency", "open_amount", "fee", "fees_open", "interest", "costs", "interest_open",
                 "costs_open", "reason", "payment_method", "days_overdue", "token", "postal_address", "reminders_sent")
VALUE_COLUMNS = ("email", "first_name", "last_name", "language", *FIELD_KEYS, "due_date", "order_date")


def records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    """`frame`'s rows as dicts of those `columns` it has (`ORDER_COLUMNS` or `VALUE_COLUMNS`: what `row` reads), as
    `DataFrame.to_dict("records")` gives them (a missing value of a nullable column is None), read a column at a time
    rather than a cell at a time."""
    names = [c for c in dict.fromkeys(columns) if c in frame.columns]
    return [dict(zip(names, values)) for values in zip(*(_cells(frame[c]) for c in names))]


def _cells(column: pd.Series) -> list:
    cells = column.tolist()
    return [None if cell is pd.NA else cell for cell in cells] if column.hasnans else cells


def row(order: dict, value: dict) -> dict:
    """One reminder for the store: the order's figures at the time, and the merge fields it carried
    (`value` is the order's row of `exports.fields.values`). Campaigns add the rendered message."""
    return {
        "order_id": order["order_id"], "stage": order["stage"], "about": order.get("about") or "", "email": value["email"],
        "first_name": value["first_name"], "last_name": value["last_name"], "language": value["language"],
        "currency": order["currency"], "open_amount": int(order["open_amount"]), "fee": int(order["fee"]),
        **{column: int(order.get(column) or 0) for column in ("fees_open", "interest", "costs", "interest_open", "costs_open")},
        "reason": order["reason"], "payment_method": order["payment_method"] or "", "days_overdue": int(order["days_overdue"]),
        "token_id": tokens.token_id(order["token"]), "postal_address": order.get("postal_address") or "",
        "merge_fields": json.dumps({key: str(value[key]) for key in FIELD_KEYS if key not in ("due_date", "order_date")}
                                   | {"due_date": value["due_date"].date().isoformat(),
                                      "order_date": "" if pd.isna(value["order_date"]) else value["order_date"].date().isoformat(),
                                      "reminders_sent": int(order["reminders_sent"])}, ensure_ascii=False),
    }


def asks_payment(stage: str) -> bool:
    """Whether a message of this stage asks to be paid (and carries how): every one but the notice that an order is
    cancelled, which says that nothing more is owed for it."""
    return stage != CANCELLATION
