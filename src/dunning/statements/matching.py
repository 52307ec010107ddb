"""Which order a bank entry pays, tried in this order, each recorded with how it matched:

1. `reference`: the structured creditor reference (RF..., from the manage page, or the earlier form pages showed
   before references carried the order's number) or the Swiss QR reference of exactly one order, in the structured
   field or anywhere in the text; a reference two orders would share matches neither;
2. `order_id`: the id of exactly one order in the remittance text, as a whole word (as written, with its
   punctuation left out as some banks do, or split in two where the bank's text field ended), certain where the amount
   agrees with what the order owes: an id with letters for any part of it, an id of digits only (read only where it has
   at least four: a date, a time or a count in the text is no order) for exactly all of it. Else the match is
   `probable`;
3. `probable`: no reference and no id, but exactly one order in that currency is owed exactly that amount (what is
   due with its fees, or what is due without them) and the payer's name holds the customer's last name. Listed for
   the merchant to confirm; never counted before that.

A credit that names two orders or more (by reference or id) and is exactly what they owe together, in their currency,
is `split`: each order gets what it owes. Else, and for a return, it is `unmatched`, with the orders in its note, for
the merchant to assign. One that matches none of these is `unmatched`; a debit is not a customer's payment.
"""
from __future__ import annotations

import re

import pandas as pd

from dunning.bank import creditor_reference, earlier_creditor_reference, is_creditor_reference, qr_reference
from dunning.statements.entries import CREDIT, RETURN

REFERENCE, ORDER_ID, SPLIT, PROBABLE, UNMATCHED, NOT_A_PAYMENT = ("reference", "order_id", "split", "probable", "unmatched",
                                                                  "debit")
CERTAIN = (REFERENCE, ORDER_ID, SPLIT)
_RF = re.compile(r"RF\d{2}[A-Z0-9]{1,21}")
_QRR = re.compile(r"(?<!\d)\d{27}(?!\d)")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/.#]*[A-Za-z0-9]|[A-Za-z0-9]")
MIN_DIGITS = 4  # an id of digits only, shorter than this, is never looked for in a text
AMBIGUOUS = object()


class Matcher:
    """The ledger's orders, indexed by their references, ids and what they are owed (`orders`: order_id, last_name,
    currency, and the balance's due_open and owed_now)."""

    def __init__(self, orders: pd.DataFrame):
        ids = orders["order_id"].astype(str).tolist()
        self.references = _unique([(earlier_creditor_reference(o), o) for o in ids] + [(qr_reference(o), o) for o in ids]
                                  + [(creditor_reference(o, int(k)), o) for o, k in zip(ids, orders["order_key"])])
        self.ids = _unique((o.upper(), o) for o in ids if not o.isdigit() or len(o) >= MIN_DIGITS)
        self.compact_ids = _unique((_compact(o), o) for o in ids if len(_compact(o)) >= 4 and not _compact(o).isdigit())
        self.orders = orders.set_index("order_id")

    def match(self, entries: pd.DataFrame) -> pd.DataFrame:
        """The entries with `order_id`, `matched_by` and `note` added, and `parts`: the (order, amount) each order gets
        of a split transfer, else the one order and the whole amount."""
        found = [self._one(e) for e in entries.itertuples(index=False)]
        notes = [note for _, _, note, _ in found]
        if "note" in entries.columns:
            notes = [note or earlier for note, earlier in zip(notes, entries["note"])]
        return entries.assign(order_id=[o for o, _, _, _ in found], matched_by=[how for _, how, _, _ in found], note=notes,
                              parts=[parts or [(o, amount)] for (o, _, _, parts), amount in zip(found, entries["amount"])])

    def _one(self, entry) -> tuple[str, str, str, list[tuple[str, int]]]:
        if entry.direction not in (CREDIT, RETURN):
            return "", NOT_A_PAYMENT, "", []
        text = f"{entry.reference} {entry.remittance}"
        by_reference, by_id = self._by_reference(text), self._by_id(text)
        named = sorted(by_reference | by_id) if not (len(by_reference) == 1 and by_id <= by_reference) else sorted(by_reference)
        if len(named) > 1:
            owed = [(o, int(self.orders.loc[o, "owed_now"])) for o in named]
            same_currency = all(self.orders.loc[o, "currency"] == entry.currency for o in named)
            if entry.direction == CREDIT and same_currency and all(a for _, a in owed) and sum(a for _, a in owed) == entry.amount:
                return ", ".join(named), SPLIT, "split by what each order owed", owed
            return "", UNMATCHED, "names orders " + ", ".join(named[:5]) + ": assign it (dunning payments assign)", []
        if by_reference:
            return named[0], REFERENCE, "", []
        if by_id:
            order = named[0]
            certain = entry.direction == RETURN or self._agrees(order, entry.amount, exactly=order.isdigit())
            return order, ORDER_ID if certain else PROBABLE, "", []
        if entry.direction == CREDIT and (order := self._by_amount_and_name(entry)):
            return order, PROBABLE, "", []
        return "", UNMATCHED, "", []

    def _agrees(self, order: str, amount: int, exactly: bool) -> bool:
        """Whether the amount fits what the order owes: exactly (all of it, with or without its fees), or, for an id with
        letters, any part of it."""
        row = self.orders.loc[order]
        return amount in (int(row["owed_now"]), int(row["due_open"])) or (not exactly and amount <= int(row["owed_now"]))

    def _by_reference(self, text: str) -> set[str]:
        compact = re.sub(r"\s+", "", text.upper())
        hits = {self.references.get(q) for q in _QRR.findall(compact)}
        for found in _RF.finditer(compact):  # banks glue words onto it: try the longest valid reference first
            candidate = found.group(0)
            for end in range(len(candidate), 4, -1):
                if is_creditor_reference(candidate[:end]) and candidate[:end] in self.references:
                    hits.add(self.references[candidate[:end]])
                    break
        hits.discard(None)
        return set() if AMBIGUOUS in hits else hits

    def _by_id(self, text: str) -> set[str]:
        """The orders whose id stands in the text as a word, or as two words the bank's line break split."""
        tokens = _TOKEN.findall(text)
        hits = set()
        for token in tokens + [a + b for a, b in zip(tokens, tokens[1:])]:
            for order in (self.ids.get(token.upper()), self.compact_ids.get(_compact(token))):
                if order is AMBIGUOUS:
                    return set()
                if order:
                    hits.add(order)
        return hits

    def _by_amount_and_name(self, entry) -> str:
        owed = (self.orders["owed_now"] == entry.amount) | (self.orders["due_open"] == entry.amount)
        candidates = self.orders[owed.to_numpy(dtype=bool)]
        payer = entry.payer.casefold()
        has_name = candidates["last_name"].fillna("").astype(str).map(lambda n: bool(n) and n.casefold() in payer)
        named = candidates[(candidates["currency"] == entry.currency).to_numpy(dtype=bool) & has_name.to_numpy(dtype=bool)]
        return str(named.index[0]) if len(named) == 1 else ""


def _compact(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _unique(pairs) -> dict:
    """key -> value, or AMBIGUOUS where two orders share the key."""
    found: dict = {}
    for key, value in pairs:
        found[key] = AMBIGUOUS if key in found and found[key] != value else value
    return found
