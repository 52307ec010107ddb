"""Which real movement of money an observation is: an existing one, a new one, or a question for the merchant.

A payment reported by a source (a payments file, the webhook, a bank statement) is the same movement as one the
journal holds when, in this order:

1. they carry the same reference (the provider's payment id, an end-to-end id): same order and amount, else review
   (money going back that names a payment's reference is its reversal: a movement of its own, once);
2. on the same order, a movement of exactly that amount within `window` days that no observation of this source has
   yet (a webhook event and a statement line of one transfer), and that did not go back (a chargeback of it) before
   this sighting: one such movement, else review when several;
3. otherwise it is a new movement.

A shop's export reports sums, not payments (`exports`): what it says was paid before the journal first saw an
order, then each drop (or rise) in what it says is open. Per order, its snapshots are replayed in date order against
the movements the sources reported: each covers the movements no earlier snapshot covered, made by its date give or
take `window` days, oldest first (`_cover`); what it shows beyond them was paid to the shop directly (or paid back),
a movement made by the export; when the sources report more in a way no run of their movements adds up to, that
snapshot goes to review. Replayed from scratch whenever an order learns something, with what changed appended as an adjustment,
so the result never depends on the order the sightings arrived in. Nothing ambiguous ever becomes a second
movement: it waits in review for `dunning payments assign`.

`match` and `exports` are pure functions of what the journal knows and what arrives, so a look (`--dry-run`) and
the run that records compute the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COUNTED, REVIEW, UNMATCHED, NOTED = "counted", "review", "unmatched", "noted"
DIRECT = ("payment", "refund", "chargeback", "return")
DROP, RISE, OPENING, LEFT_LIST = "drop", "rise", "opening", "left_list"
AGGREGATE = (DROP, RISE, OPENING)
EXPORT, MERCHANT = "export", "merchant"
SOURCE_RANK = {"statement": 0, "webhook": 1, "file": 2, MERCHANT: 3}
WINDOW_DAYS = 7
MOVEMENT_COLUMNS = ["id", "code", "kind", "amount", "currency", "occurred_on", "source", "origin", "covers_from", "reverses",
                    "made_by", "note"]


@dataclass
class Known:
    """What the journal holds of the orders involved: their movements, which sources saw each, and every movement any of
    the incoming references names (of any order)."""

    movements: pd.DataFrame  # MOVEMENT_COLUMNS; occurred_on as datetime64
    links: pd.DataFrame  # movement_id, source: the direct observations linked to each movement
    references: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # reference -> (movement id, code, amount)


@dataclass
class Matched:
    """Per incoming row: status, movement (an existing id, or a new one's negative id), note; the new movements."""

    status: pd.Series
    movement: pd.Series
    note: pd.Series
    movements: pd.DataFrame


def match(incoming: pd.DataFrame, known: Known, window: int = WINDOW_DAYS, first_id: int = -1) -> Matched:
    """Link each incoming direct observation (`code` -1 for an order the journal does not know) to a movement, or make
    one (ids from `first_id` down), or leave it for review. The shop's exports' rows are left to `exports`."""
    status = pd.Series(COUNTED, index=incoming.index, dtype=object)
    movement = pd.Series(0, index=incoming.index, dtype="int64")
    note = incoming["note"].fillna("").astype(object).copy()
    status[incoming["code"] < 0] = UNMATCHED
    status[incoming["kind"] == LEFT_LIST] = NOTED
    asked = incoming["review"].fillna(False).astype(bool) if "review" in incoming else pd.Series(False, index=incoming.index)
    status[asked & (incoming["code"] >= 0)] = REVIEW  # a probable match: the merchant confirms it first
    live = incoming[(incoming["code"] >= 0) & incoming["kind"].isin(DIRECT) & ~asked]
    plain = _plain(live, known, window)
    made = _new_movements(live[plain], start=-first_id)
    movement[live.index[plain]] = made["id"].to_numpy()
    ledger = _Ledger(known, window, first_id=first_id - len(made))
    for _, rows in live[~plain].groupby("code", sort=True):
        for row in _in_turn(rows).itertuples():
            status[row.Index], movement[row.Index], text = ledger.direct(row)
            if text:
                note[row.Index] = text
    movements = pd.concat([made, ledger.made_frame()], ignore_index=True) if ledger.made else made
    return Matched(status, movement, note, movements.reset_index(drop=True))


@dataclass
class Exported:
    """Per aggregate event (by its key): status, the movements it covers; and the adjustments to what the exports made."""

    status: dict
    covers: dict
    movements: pd.DataFrame


def exports(events: pd.DataFrame, moved: pd.DataFrame, made: pd.Series, window: int = WINDOW_DAYS,
            first_id: int = -1) -> Exported:
    """Replay each order's export snapshots in date order against its movements (see the module's text).

    `events`: key, code, kind, amount (signed), occurred_on, currency, origin, covers_from: the aggregate observations of
    the orders concerned (stored and arriving). `moved`: their movements (id, code, kind, amount, occurred_on, source,
    made_by). `made`: per event key, what movements it made so far. Returns each event's status and coverage, and the
    movements that bring what each event made to what it should make now (ids from `first_id` down)."""
    span = pd.Timedelta(days=window)
    status, covers, adjustments = {}, {}, []
    reported = moved[~moved["source"].isin((EXPORT, MERCHANT)) & (moved["kind"] != "moved")]
    by_code = {code: group.sort_values(["occurred_on", "amount"], kind="stable") for code, group in reported.groupby("code")}
    next_id = first_id
    for code, group in events.groupby("code", sort=True):
        mine = by_code.get(code, reported.iloc[0:0])
        covered: set[int] = set()
        rank = group["kind"].map({OPENING: 0}).fillna(1)
        for event in group.assign(_r=rank).sort_values(["occurred_on", "_r", "key"], kind="stable").itertuples():
            candidates = mine[~mine["id"].isin(covered) & (mine["occurred_on"] <= event.occurred_on + span)]
            taken, rest = _cover(int(event.amount), candidates)
            status[event.key] = COUNTED if taken is not None else REVIEW
            covers[event.key] = taken or []
            covered |= set(taken or [])
            change = (rest or 0) - int(made.get(event.key, 0))
            if change:
                adjustments.append({"id": next_id, "code": code, "kind": "payment" if change > 0 else "reversal",
                                    "amount": change, "currency": event.currency, "occurred_on": event.occurred_on,
                                    "source": EXPORT, "origin": event.origin, "covers_from": event.covers_from,
                                    "reverses": pd.NA, "made_by": event.key,
                                    "note": "" if event.key not in made.index else "the export's share, settled again"})
                next_id -= 1
    frame = pd.DataFrame(adjustments, columns=MOVEMENT_COLUMNS)
    return Exported(status, covers, frame.astype({"id": "int64", "code": "int64", "amount": "int64", "reverses": "Int64"}))


def _cover(wanted: int, candidates: pd.DataFrame) -> tuple[list[int] | None, int | None]:
    """The movements a snapshot showing `wanted` covers and what it shows beyond them; (None, None) for review.

    Money the same way as the snapshot comes first: when the sources report no more of it than the shop shows, the
    snapshot covers all of it and shows the rest paid to the shop directly (money the other way, a return the shop
    may not know of, stays apart). When they report more, the snapshot covers the oldest run of movements, either way,
    that adds up to exactly what it shows (the shop has not shown the later ones yet); when none does, review."""
    amounts = candidates["amount"].to_numpy(dtype="int64")
    ids = candidates["id"].to_numpy(dtype="int64")
    along = (amounts > 0) == (wanted > 0)
    if abs(int(amounts[along].sum())) <= abs(wanted):
        return ids[along].tolist(), wanted - int(amounts[along].sum())
    for pick in (np.ones(len(ids), dtype=bool), along):
        exact = np.flatnonzero(np.cumsum(amounts[pick]) == wanted)
        if len(exact):
            return ids[pick][:exact[0] + 1].tolist(), 0
    return None, None


def _plain(live: pd.DataFrame, known: Known, window: int) -> np.ndarray:
    """The rows that are plainly new movements: a direct observation on an order where nothing could be the same
    money (no reference the journal knows, no movement of that amount near its date, nothing else arriving for the
    order from another source in this batch). Decided for whole orders."""
    if live.empty:
        return np.zeros(0, dtype=bool)
    sources = live.groupby("code")["source"].nunique()
    hard = set(sources[sources > 1].index)
    refs = live["reference"].fillna("")
    named = refs != ""
    hard |= set(live.loc[named & refs.isin(known.references), "code"])
    hard |= set(live.loc[named & refs.duplicated(keep=False), "code"])
    moved = known.movements
    if not moved.empty:
        near = live[["code", "amount", "occurred_on"]].merge(moved[["code", "amount", "occurred_on"]], on=["code", "amount"],
                                                              suffixes=("", "_known"))
        close = (near["occurred_on"] - near["occurred_on_known"]).abs() <= pd.Timedelta(days=window)
        hard |= set(near.loc[close.to_numpy(dtype=bool), "code"])
        backwards = live[live["amount"] < 0][["code", "amount"]].merge(moved[["code", "amount"]].assign(amount=-moved["amount"]),
                                                                        on=["code", "amount"])
        hard |= set(backwards["code"])
    return ~live["code"].isin(hard).to_numpy(dtype=bool)


def _new_movements(rows: pd.DataFrame, start: int) -> pd.DataFrame:
    """One new movement per row (ids -start, -start-1, ...)."""
    return pd.DataFrame({
        "id": -np.arange(start, start + len(rows), dtype="int64"), "code": rows["code"].to_numpy(dtype="int64"),
        "kind": rows["kind"].array, "amount": rows["amount"].to_numpy(dtype="int64"),
        "currency": rows["currency"].array, "occurred_on": rows["occurred_on"].to_numpy(dtype="datetime64[ns]"),
        "source": rows["source"].array, "origin": rows["origin"].array,
        "covers_from": np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
        "reverses": pd.array([pd.NA] * len(rows), dtype="Int64"), "made_by": pd.NA, "note": "",
    }, columns=MOVEMENT_COLUMNS)


def _in_turn(rows: pd.DataFrame) -> pd.DataFrame:
    """One order's rows in the order they are judged: by source, date and key."""
    rank = rows["source"].map(SOURCE_RANK).fillna(9)
    return rows.assign(_r=rank).sort_values(["_r", "occurred_on", "source_key"], kind="stable")


class _Ledger:
    """One order at a time: the movements known and made so far, with the sources that saw each."""

    def __init__(self, known: Known, window: int, first_id: int):
        self.window = pd.Timedelta(days=window)
        self.references = dict(known.references)
        self.made: list[dict] = []
        self.next_id = first_id
        self.by_code: dict[int, list[dict]] = {}
        links = known.links
        families = links.groupby("movement_id")["source"].agg(set).to_dict() if not links.empty else {}
        for m in known.movements.to_dict("records"):
            if m["source"] == EXPORT:
                continue  # what an export made is settled by `exports`, never the same money as a source's sighting
            m["families"] = set(families.get(m["id"], set())) | {m["source"]}
            m["reverses"] = None if pd.isna(m.get("reverses")) else int(m["reverses"])
            self.by_code.setdefault(int(m["code"]), []).append(m)

    def direct(self, row) -> tuple[str, int, str]:
        """A payment (or money going back) reported by a file, the webhook or a statement."""
        mine = self.by_code.setdefault(int(row.code), [])
        if row.reference and row.reference in self.references:
            known_id, code, amount = self.references[row.reference]
            if code == row.code and amount == row.amount:
                return self._link(mine, known_id, row)
            if code == row.code and amount == -row.amount:  # the payment it names goes back (a return, a chargeback)
                back = [m for m in mine if m["amount"] == row.amount and row.source not in m["families"]
                        and (m["reverses"] == known_id or (m["reverses"] is None and abs(m["occurred_on"] - row.occurred_on) <= self.window))]
                return self._link(mine, back[0]["id"], row) if back else self._new(row, reverses=known_id)
            return REVIEW, 0, (f"reference {row.reference} is on another order's movement" if code != row.code
                               else f"reference {row.reference} is a movement of another amount")
        same = [m for m in mine if m["amount"] == row.amount and row.source not in m["families"] and m["kind"] != "moved"
                and abs(m["occurred_on"] - row.occurred_on) <= self.window and not self._gone_back(mine, m, row.occurred_on)]
        if len(same) > 1:
            return REVIEW, 0, f"{len(same)} movements of this amount on the order within {self.window.days} days could be it"
        if same:
            return self._link(mine, same[0]["id"], row)
        return self._new(row, reverses=None)

    @staticmethod
    def _gone_back(mine: list[dict], movement: dict, seen_on) -> bool:
        """Whether the same money went back (a chargeback, refund or return of that amount) between the movement and a
        new sighting: then the sighting is a new payment, not the first one seen again."""
        return any(m["amount"] == -movement["amount"] and movement["occurred_on"] <= m["occurred_on"] <= seen_on for m in mine)

    def made_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.made, columns=MOVEMENT_COLUMNS)
        frame["reverses"] = frame["reverses"].astype("Int64")
        for column in ("occurred_on", "covers_from"):
            frame[column] = pd.to_datetime(frame[column])
        return frame.astype({"id": "int64", "code": "int64", "amount": "int64"})

    def _link(self, mine: list[dict], movement_id: int, row) -> tuple[str, int, str]:
        for m in mine:
            if m["id"] == movement_id:
                m["families"].add(row.source)
        if row.reference:
            self.references.setdefault(row.reference, (movement_id, int(row.code), int(row.amount)))
        return COUNTED, movement_id, ""

    def _new(self, row, reverses: int | None) -> tuple[str, int, str]:
        movement = {"id": self.next_id, "code": int(row.code), "kind": row.kind, "amount": int(row.amount), "currency": row.currency,
                    "occurred_on": row.occurred_on, "source": row.source, "origin": row.origin, "covers_from": pd.NaT,
                    "reverses": reverses, "made_by": pd.NA, "note": ""}
        self.next_id -= 1
        self.made.append(movement)
        self.by_code[int(row.code)].append(movement | {"families": {row.source}})
        if row.reference:
            self.references.setdefault(row.reference, (movement["id"], int(row.code), int(row.amount)))
        return COUNTED, movement["id"], ""
