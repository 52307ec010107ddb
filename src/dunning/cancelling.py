"""Cancelling orders, as a prepayment shop does when the money never came: the decision in the ledger (no further
reminders; a cancellation notice goes out with a campaign of stage `cancellation`), and what the shop must change:
a CSV of the orders with their new status in the shop's own words (its profile's columns and status word, to import
back), and optionally a signed call to a URL the merchant names."""
from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from dunning import actions, files
from dunning.errors import InputError
from dunning.journal import decisions
from dunning.journal.store import Store
from dunning.money import to_major_string
from dunning.policy import Policy
from dunning.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from dunning.sources.profiles import Profile

CANCELLED = "cancelled"
CANCEL = "cancel"  # the work list's action where the policy cancels after the final notice
SECRET_VARIABLE = "DUNNING_SHOP_SECRET"
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Cancelled:
    """An order cancelled now (`new`), or before: what was open when it was."""

    order_id: str
    currency: str
    amount_open: int
    new: bool


def due(store: Store, policy: Policy, as_of: date) -> list[str]:
    """The orders the policy cancels (`[policy.after_final] action = "cancel"`): still open `days` after the final
    notice and not decided on, oldest final notice first."""
    if policy.after_final.action != CANCEL:
        return []
    listed = actions.work_list(store, policy, as_of)
    return listed.loc[listed["action"] == CANCEL, "order_id"].tolist()


def cancel(store: Store, order_ids: list[str], as_of: date, note: str = "") -> list[Cancelled]:
    """Record each order as cancelled, all in one transaction (an order cancelled before stays as it was). Every order
    must be in the ledger and none decided otherwise (written off, with collection): else nothing is written."""
    opened = {order_id: actions.open_amount(store, order_id, as_of) for order_id in dict.fromkeys(order_ids)}
    unknown = [order_id for order_id, (_, currency) in opened.items() if not currency]
    if unknown:
        raise InputError(f"not in the ledger: {', '.join(unknown[:10])}")
    before = decisions.decide_all(store, CANCELLED, [
        {"order_id": order_id, "currency": currency, "amount_open": int(amount), "note": note, "decided_on": as_of}
        for order_id, (amount, currency) in opened.items()])
    return [Cancelled(order_id, currency, amount if before[order_id] is None else before[order_id], before[order_id] is None)
            for order_id, (amount, currency) in opened.items()]


@dataclass(frozen=True)
class Outcome:
    """What `carry_out` did: the orders, the shop's file, and the shop's answer to the call (None: no cancel_url)."""

    cancelled: list[Cancelled]
    file: Path
    shop_answered: int | None


def carry_out(store: Store, order_ids: list[str], as_of: date, *, profile: Profile, file: Path, url: str = "",
              secret: str = "", note: str = "") -> Outcome:
    """Cancel the orders in the ledger, then write the shop's file (these orders and every other cancelled that day)
    and call its URL with these orders (after the decisions are committed: a shop that does not answer leaves them
    cancelled; doing it again writes and calls again).
    Raises ShopRefused, with the file written, when the call fails."""
    if url:
        checked_url(url, "[shop]")
        if not secret:
            raise InputError(f"[shop] cancel_url is set: set {SECRET_VARIABLE} to the secret the shop checks the call with")
    cancelled = cancel(store, order_ids, as_of, note)
    made = decisions.decided(store)
    same_day = made.loc[(made["decision"] == CANCELLED) & (made["decided_on"] == pd.Timestamp(as_of)), "order_id"].tolist()
    listed = list(dict.fromkeys([c.order_id for c in cancelled] + same_day))  # the day's file holds the day's cancellations
    files.write_private(file, files.csv_bytes(shop_rows(listed, profile)), overwrite=True)
    return Outcome(cancelled, file, tell_shop(url, secret, cancelled, as_of) if url else None)


def shop_rows(order_ids: list[str], profile: Profile) -> pd.DataFrame:
    """What the shop imports to cancel the orders: its own column names for the order id and the status (the
    profile's first), and its own word for cancelled (`[values.status]`), else `cancelled`."""
    id_column = profile.columns.get("order_id", ("order_id",))[0]
    status_column = profile.columns.get("status", ("status",))[0]
    word = next((own for own, canonical in profile.values.get("status", {}).items() if canonical == CANCELLED), CANCELLED)
    return pd.DataFrame({id_column: order_ids, status_column: [word] * len(order_ids)}, columns=[id_column, status_column])


def checked_url(url: str, where: str) -> str:
    """The shop's URL for cancellations: https, or http to this machine only (a shop on loopback, as in tests)."""
    parts = urllib.parse.urlsplit(url)
    local = parts.hostname in ("localhost",) or _loopback(parts.hostname or "")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise InputError(f"{where} cancel_url = {url!r}: the call carries customers' orders, so it goes over https "
                         "(http only to this machine)")
    return url


def tell_shop(url: str, secret: str, cancelled: list[Cancelled], as_of: date) -> int:
    """POST the cancelled orders to the shop's URL as JSON, signed like the payment webhook (X-Dunning-Timestamp,
    X-Dunning-Signature: HMAC-SHA256 with DUNNING_SHOP_SECRET over b"<timestamp>." + body); returns the answer's
    status; ShopRefused for an answer other than 2xx, or none."""
    body = json.dumps({"event": "orders.cancelled", "as_of": as_of.isoformat(),
                       "orders": [{"order_id": c.order_id, "currency": c.currency,
                                   "open_amount": to_major_string(c.amount_open, c.currency)} for c in cancelled]},
                      ensure_ascii=False).encode("utf-8")
    stamp = int(time.time())
    call = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)})
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT_SECONDS) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        raise ShopRefused(f"the shop's cancel_url answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ShopRefused(f"the shop's cancel_url could not be reached ({getattr(exc, 'reason', exc)})") from None


class ShopRefused(Exception):
    """The shop's URL did not take the call: the orders are cancelled in the ledger all the same."""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
