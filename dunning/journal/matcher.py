"""Which real movement of money an observation is: an existing one, a new one, or a question for the merchant.

A payment reported by a source (a payments file, the webhook, a bank statement) is the same movement as one the
journal holds when, in this order:

1. they carry the same reference (the provider's payment id, an end-to-end id): same order and amount, else review;
2. on the same order, a movement of exactly that amount within `window` days that no observation of this source has
   yet (a webhook event and a statement line of one transfer): one such movement, else review when several;
3. a movement the shop's export showed (a drop in what it says is open) still has room for it, and the shop showed
   it no earlier than `window` days before the payment: it itemises part of that drop (the oldest such drop);
4. otherwise it is a new movement.

A shop's export reports sums, not payments: a drop in what it says is open covers the journal's payments that no
export has shown yet (made by the drop's date, give or take `window` days), oldest first; what it shows beyond them is a new movement ("paid to the shop
directly"); when the journal knows more than the drop in a way no run of its payments adds up to, the drop goes
to review. A rise is the same for money going back (chargebacks, refunds, returns). Nothing ambiguous ever
becomes a second movement: it waits in review for `dunning payments assign`.

`match` is a pure function of what the journal knows of the orders involved and the incoming observations, so a
look (`--dry-run`) and the run that records compute the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COUNTED, REVIEW, UNMATCHED, NOTED = "counted", "review", "unmatched", "noted"
DIRECT = ("payment", "refund", "chargeback", "return")
DROP, RISE, OPENING, LEFT_LIST = "drop", "rise", "opening", "left_list"
AGGREGATE = (DROP, RISE, OPENING)
EXPORT = "export"
SOURCE_RANK = {"statement": 0, "webhook": 1, "file": 2, "merchant": 3, EXPORT: 4}
WINDOW_DAYS = 7
INCOMING_COLUMNS = ["row", "source", "source_key", "origin", "order_id", "code", "kind", "amount", "currency", "occurred_on",
                    "reference", "covers_from", "note", "review"]
MOVEMENT_COLUMNS = ["id", "code", "kind", "amount", "currency", "occurred_on", "source", "origin", "covers_from", "reverses",
                    "note"]


@dataclass
class Known:
    """What the journal holds of the orders involved: their movements, which sources saw each, what the shop's
    exports covered, and every movement any of the incoming references names (of any order)."""

    movements: pd.DataFrame  # MOVEMENT_COLUMNS; occurred_on and covers_from as datetime64
    links: pd.DataFrame  # movement_id, source, amount, reference: the direct observations linked to each movement
    covered: set[int] = field(default_factory=set)  # movements a shop's export has shown
    references: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # reference -> (movement id, code, amount)


@dataclass
class Matched:
    """Per incoming row: status, movement (an existing id, or a new one's negative id), note, the movements it covers;
    and the new movements (negative ids)."""

    status: pd.Series
    movement: pd.Series
    note: pd.Series
    covers: dict[int, list[int]]
    movements: pd.DataFrame


def match(incoming: pd.DataFrame, known: Known, window: int = WINDOW_DAYS) -> Matched:
    """Link each incoming observation (INCOMING_COLUMNS; `code` -1 for an order the journal does not know) to a
    movement, or make one, or leave it for review; the result does not depend on the order rows arrive in."""
    status = pd.Series(COUNTED, index=incoming.index, dtype=object)
    movement = pd.Series(0, index=incoming.index, dtype="int64")
    note = incoming["note"].astype(object).copy()
    status[incoming["code"] < 0] = UNMATCHED
    status[incoming["kind"] == LEFT_LIST] = NOTED
    asked = incoming["review"].fillna(False).astype(bool) if "review" in incoming else pd.Series(False, index=incoming.index)
    status[asked & (incoming["code"] >= 0)] = REVIEW  # a probable match: the merchant confirms it first
    live = incoming[(incoming["code"] >= 0) & (incoming["kind"] != LEFT_LIST) & ~asked]
    plain = _plain(live, known, window)
    made = _new_movements(live[plain], start=1)
    movement[live.index[plain]] = made["id"].to_numpy()
    ledger = _Ledger(known, window, first_id=-(len(made) + 1))
    for _, rows in live[~plain].groupby("code", sort=True):
        for row in _in_turn(rows).itertuples():
            outcome = ledger.direct(row) if row.kind in DIRECT else ledger.aggregate(row)
            status[row.Index], movement[row.Index], text = outcome
            if text:
                note[row.Index] = text
    movements = pd.concat([made, ledger.made_frame()], ignore_index=True) if ledger.made else made
    return Matched(status, movement, note.fillna(""), ledger.covers, movements.reset_index(drop=True))


def _plain(live: pd.DataFrame, known: Known, window: int) -> np.ndarray:
    """The rows that are plainly new movements: a direct observation on an order where nothing could be the same
    money (no reference the journal knows, no movement of that amount near its date, no drop with room, nothing
    else arriving for the order from another source or export in this batch). Decided for whole orders."""
    if live.empty:
        return np.zeros(0, dtype=bool)
    hard = set(live.loc[~live["kind"].isin(DIRECT), "code"])
    sources = live.groupby("code")["source"].nunique()
    hard |= set(sources[sources > 1].index)
    refs = live["reference"].fillna("")
    named = refs != ""
    hard |= set(live.loc[named & refs.isin(known.references), "code"])
    repeated = live[named & refs.duplicated(keep=False)]
    hard |= set(repeated["code"])
    moved = known.movements
    if not moved.empty:
        hard |= set(moved.loc[moved["source"] == EXPORT, "code"])
        near = live[["code", "amount", "occurred_on"]].merge(moved[["code", "amount", "occurred_on"]], on=["code", "amount"],
                                                              suffixes=("", "_known"))
        close = (near["occurred_on"] - near["occurred_on_known"]).abs() <= pd.Timedelta(days=window)
        hard |= set(near.loc[close.to_numpy(dtype=bool), "code"])
    return ~live["code"].isin(hard).to_numpy(dtype=bool)


def _new_movements(rows: pd.DataFrame, start: int) -> pd.DataFrame:
    """One new movement per row (ids -start, -start-1, ...)."""
    return pd.DataFrame({
        "id": -np.arange(start, start + len(rows), dtype="int64"), "code": rows["code"].to_numpy(dtype="int64"),
        "kind": rows["kind"].to_numpy(dtype=object), "amount": rows["amount"].to_numpy(dtype="int64"),
        "currency": rows["currency"].to_numpy(dtype=object), "occurred_on": rows["occurred_on"].to_numpy(dtype="datetime64[ns]"),
        "source": rows["source"].to_numpy(dtype=object), "origin": rows["origin"].to_numpy(dtype=object),
        "covers_from": np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
        "reverses": pd.array([pd.NA] * len(rows), dtype="Int64"), "note": "",
    }, columns=MOVEMENT_COLUMNS)


def _in_turn(rows: pd.DataFrame) -> pd.DataFrame:
    """One order's rows in the order they are judged: direct observations by source, date and arrival; then the shop's
    exports by date (a drop covers the payments the journal knows of)."""
    rank = rows["source"].map(SOURCE_RANK).fillna(9)
    aggregate = rows["kind"].isin(AGGREGATE)
    return rows.assign(_a=aggregate, _r=rank).sort_values(["_a", "_r", "occurred_on", "source_key"], kind="stable")


class _Ledger:
    """One order at a time: the movements known and made so far, with who saw each."""

    def __init__(self, known: Known, window: int, first_id: int):
        self.window = pd.Timedelta(days=window)
        self.references = dict(known.references)
        self.covered = set(known.covered)
        self.covers: dict[int, list[int]] = {}
        self.made: list[dict] = []
        self.next_id = first_id
        self.by_code: dict[int, list[dict]] = {}
        links = known.links
        families = links.groupby("movement_id")["source"].agg(set).to_dict() if not links.empty else {}
        itemized = links.groupby("movement_id")["amount"].sum().to_dict() if not links.empty else {}
        for m in known.movements.to_dict("records"):
            m["families"] = set(families.get(m["id"], set())) | ({m["source"]} if m["source"] != EXPORT else set())
            m["itemized"] = int(itemized.get(m["id"], 0)) if m["source"] == EXPORT else 0
            self.by_code.setdefault(int(m["code"]), []).append(m)

    def direct(self, row) -> tuple[str, int, str]:
        """A payment (or money going back) reported by a file, the webhook or a statement."""
        mine = self.by_code.setdefault(int(row.code), [])
        if row.reference and row.reference in self.references:
            known_id, code, amount = self.references[row.reference]
            if code == row.code and amount == row.amount:
                self._saw(known_id, row)
                return COUNTED, known_id, ""
            return REVIEW, 0, (f"reference {row.reference} is on another order's movement" if code != row.code
                               else f"reference {row.reference} is a movement of another amount")
        same = [m for m in mine if m["amount"] == row.amount and row.source not in m["families"] and m["kind"] != "moved"
                and (m["source"] != EXPORT or m["itemized"] == 0) and abs(m["occurred_on"] - row.occurred_on) <= self.window]
        if len(same) > 1:
            return REVIEW, 0, f"{len(same)} movements of this amount on the order within {self.window.days} days could be it"
        if not same:
            same = [m for m in mine if m["source"] == EXPORT and np.sign(m["amount"]) == np.sign(row.amount)
                    and abs(m["amount"]) - m["itemized"] >= abs(row.amount) and row.source not in m["families"]
                    and row.occurred_on <= m["occurred_on"] + self.window][:1]
        if same:
            chosen = same[0]
            if chosen["source"] == EXPORT:
                chosen["itemized"] += abs(int(row.amount))
            self._saw(chosen["id"], row)
            return COUNTED, chosen["id"], ""
        made = self._make(row, kind=row.kind, amount=int(row.amount), covers_from=pd.NaT, reverses=None, note="")
        made["families"].add(row.source)
        if row.reference:
            self.references[row.reference] = (made["id"], int(row.code), int(row.amount))
        return COUNTED, made["id"], ""

    def aggregate(self, row) -> tuple[str, int, str]:
        """What a shop's export showed paid (a drop, or what was paid before the order was first seen) or paid back
        (a rise) since its previous view of the order."""
        sign = 1 if row.amount > 0 else -1
        mine = self.by_code.setdefault(int(row.code), [])
        candidates = sorted((m for m in mine if m["source"] != EXPORT and m["id"] not in self.covered
                             and np.sign(m["amount"]) == sign and m["kind"] != "moved"
                             and m["occurred_on"] <= row.occurred_on + self.window),
                            key=lambda m: (m["occurred_on"], abs(m["id"])))
        wanted, total = abs(int(row.amount)), sum(abs(m["amount"]) for m in candidates)
        if total > wanted:
            running, prefix = 0, []
            for m in candidates:
                running += abs(m["amount"])
                prefix.append(m)
                if running >= wanted:
                    break
            if running != wanted:
                return REVIEW, 0, (f"the export shows {wanted} (minor units) {'paid' if sign > 0 else 'paid back'}, the journal "
                                   f"knows {total} in that time in amounts that do not add up to it")
            candidates = prefix
        for m in candidates:
            self.covered.add(m["id"])
        self.covers[row.Index] = [m["id"] for m in candidates]
        rest = wanted - sum(abs(m["amount"]) for m in candidates)
        if rest == 0:
            return COUNTED, 0, ""
        reverses = None
        if sign < 0:
            paid = [m for m in mine if m["amount"] > 0]
            reverses = max(paid, key=lambda m: (m["occurred_on"], abs(m["id"])))["id"] if paid else None
        made = self._make(row, kind="payment" if sign > 0 else "reversal", amount=sign * rest, covers_from=row.covers_from,
                          reverses=reverses, note="")
        self.covered.add(made["id"])
        return COUNTED, made["id"], ""

    def made_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.made, columns=MOVEMENT_COLUMNS)
        frame["reverses"] = frame["reverses"].astype("Int64")
        for column in ("occurred_on", "covers_from"):
            frame[column] = pd.to_datetime(frame[column])
        return frame.astype({"id": "int64", "code": "int64", "amount": "int64"})

    def _make(self, row, *, kind: str, amount: int, covers_from, reverses, note: str) -> dict:
        movement = {"id": self.next_id, "code": int(row.code), "kind": kind, "amount": amount, "currency": row.currency,
                    "occurred_on": row.occurred_on, "source": row.source, "origin": row.origin, "covers_from": covers_from,
                    "reverses": reverses, "note": note}
        self.next_id -= 1
        self.made.append(movement)
        self.by_code[int(row.code)].append(movement | {"families": set(), "itemized": 0})
        return self.by_code[int(row.code)][-1]

    def _saw(self, movement_id: int, row) -> None:
        for m in self.by_code.get(int(row.code), []):
            if m["id"] == movement_id:
                m["families"].add(row.source)
        if row.reference:
            self.references.setdefault(row.reference, (movement_id, int(row.code), int(row.amount)))
