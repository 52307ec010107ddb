"""What a run brings to the journal, planned by reading alone and then written in one transaction.

An `Arrival` is what one run learnt: a shop's export (its orders and the installments it says are due and open) and
observations of money (a payments file's rows, a webhook event, statement entries). `plan` reads what the journal
holds of the orders involved and works out, without writing: the orders and charges to store, the drops and rises in
what the shop says is open (observations of the export), which observations are new (a source and key seen before
is a no-op), and how each is matched (`matcher`). The plan's `book` is the journal as it will be, so a look
(`--dry-run`) shows what a recording run records. `write` takes the ledger's write lock, plans again if anything was
written since, and writes the plan: every command's money in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from pandas.util import hash_pandas_object

from dunning.arrowtext import arrow_strings
from dunning.journal import matcher
from dunning.journal.balance import INSTALLMENT, KINDS, ORDER_COLUMNS, Book, Settled, settle
from dunning.journal.sql import BATCH, fetch, insert_new, next_id, now, read_keyed, read_typed
from dunning.journal.store import Store
from dunning.journal.tables import charges, coverage, ledger_version, movements, observations, orders

DETAILS = ["order_id", "email", "first_name", "last_name", "language", "product_name", "currency", "status"]
VIEW_COLUMNS = ["order_id", "seq", "due_date", "amount_due", "amount_open"]
OBSERVED_COLUMNS = ["source", "source_key", "origin", "order_id", "kind", "amount", "currency", "occurred_on", "reference", "note",
                    "review"]
WHOLE_TABLE = 20_000  # more rows asked than this, and half the table or more: read it whole instead of by key


@dataclass
class Arrival:
    """What one run learnt: an export's orders and installments, and observations of money."""

    as_of: date
    origin: str  # export:<file>, file:<name>, webhook, statement:<file>, merchant
    details: pd.DataFrame | None = None  # DETAILS, one row per order of the export
    views: pd.DataFrame | None = None  # VIEW_COLUMNS: the export's installments, what it says is due and open
    open_only: bool = False  # the export states what is open, not what was paid: a fall in it is a payment
    observations: pd.DataFrame = field(default_factory=lambda: empty_observations())
    window: int = matcher.WINDOW_DAYS


def views_from(receivables: pd.DataFrame) -> pd.DataFrame:
    """An export's installments as the journal reads them: what it says is due and open (VIEW_COLUMNS)."""
    due = receivables["amount_due"].to_numpy(dtype="int64", na_value=0)
    paid = np.clip(receivables["amount_paid"].to_numpy(dtype="int64", na_value=0), 0, due)
    return pd.DataFrame({
        "order_id": receivables["order_id"].array, "seq": receivables["seq"].to_numpy(dtype="int64"),
        "due_date": pd.to_datetime(receivables["due_date"]).to_numpy(), "amount_due": due, "amount_open": due - paid,
    })


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "amount" else "datetime64[ns]" if c == "occurred_on"
                                      else bool if c == "review" else object) for c in OBSERVED_COLUMNS})


@dataclass
class Plan:
    """What writing an arrival will do, and the journal as it will be."""

    arrival: Arrival
    version: int
    book: Book  # every order involved (code = row; new ones with negative keys), their charges and movements after
    new_orders: pd.DataFrame
    changed_orders: pd.DataFrame
    charge_rows: pd.DataFrame  # order_key, kind, seq, due_on, amount, shop_open: to insert or update
    incoming: pd.DataFrame  # the observations judged: existing id (pending ones) or -1, status, movement, note
    matched: matcher.Matched  # the sources' observations; the exports' rows take their status from `exported`
    exported: matcher.Exported  # the shop's snapshots of the orders concerned, replayed (keys: stored ids, or -(row + 1))
    new_movements: pd.DataFrame
    _settled: dict = field(default_factory=dict, repr=False)

    def settled(self, as_of: date | None = None) -> Settled:
        """The balance of every order involved (settled once per date)."""
        day = as_of or self.arrival.as_of
        if day not in self._settled:
            self._settled[day] = self.book.settle(day)
        return self._settled[day]

    @property
    def counts(self) -> dict[str, int]:
        """New observations by what became of them, and new orders."""
        judged = self.incoming.assign(status=self.matched.status)
        direct = judged["kind"].isin(matcher.DIRECT)
        return {
            "payments": int((direct & (judged["status"] == matcher.COUNTED)).sum()),
            "drops": int((judged["kind"].isin(matcher.AGGREGATE) & (judged["status"] == matcher.COUNTED)).sum()),
            "review": int((judged["status"] == matcher.REVIEW).sum()),
            "unmatched": int((judged["status"] == matcher.UNMATCHED).sum()),
            "new_orders": len(self.new_orders),
        }


def plan(db: sa.Connection, arrival: Arrival) -> Plan:
    """Work out what `arrival` adds to the journal, reading only (see the module's text)."""
    version = db.execute(sa.select(ledger_version.c.version).where(ledger_version.c.id == 1)).scalar() or 0
    details = arrival.details if arrival.details is not None else pd.DataFrame(columns=DETAILS)
    named = arrival.observations["order_id"].astype(object)
    waiting = _waiting(db, details["order_id"])
    involved = pd.unique(pd.concat([details["order_id"].astype(object), named[named != ""], waiting["order_id"]], ignore_index=True))
    held = _held(db, list(involved))
    book_orders, new_orders, details_changed = _orders(held, details)
    keys = book_orders["order_key"].to_numpy(dtype="int64")
    code_of = pd.Series(np.arange(len(book_orders)), index=book_orders["order_id"].to_numpy())
    code_of_key = pd.Series(np.arange(len(keys)), index=keys)
    views = arrival.views if arrival.views is not None else pd.DataFrame(columns=VIEW_COLUMNS)
    charged, charge_rows, aggregates, digests = _charges(db, arrival, book_orders, held, views, code_of)
    new_orders, updates = _order_rows(book_orders, held, new_orders, details_changed, digests, arrival)
    stored_moves = _movements(db, keys[keys > 0], _most_of(db, orders.c.order_key, len(held)))
    stored_moves.insert(0, "code", code_of_key.reindex(stored_moves.pop("order_key")).to_numpy())
    incoming = _incoming(db, arrival, aggregates, waiting, code_of)
    matched = matcher.match(incoming, _known(db, stored_moves, incoming, code_of_key), arrival.window)
    exported = _exports(db, incoming, matched, stored_moves, keys, arrival.window)
    for row, state in exported.status.items():
        if row < 0:
            matched.status[-row - 1] = state
    new_moves = _joined([matched.movements, exported.movements])
    columns = ["code", "id", "amount", "occurred_on", "kind", "source", "origin"]
    moved = _joined([stored_moves[columns + ["recorded_at"]], new_moves[columns].assign(recorded_at=pd.Timestamp.now(tz="UTC"))])
    book = Book(book_orders, charged, moved.astype({"code": "int64", "id": "int64", "amount": "int64"}))
    planned = Plan(arrival, version, book, new_orders, updates, charge_rows, incoming, matched, exported, new_moves)
    _note_overpayments(planned)
    return planned


def _exports(db: sa.Connection, incoming: pd.DataFrame, matched: matcher.Matched, stored: pd.DataFrame, keys: np.ndarray,
             window: int) -> matcher.Exported:
    """The shop's snapshots of every order that learnt something in this run and has any, replayed (`matcher.exports`)."""
    fresh = incoming[incoming["kind"].isin(matcher.AGGREGATE) & (incoming["code"] >= 0) & (incoming["id"] < 0)]
    touched = set(fresh["code"]) | set(incoming.loc[(matched.status == matcher.COUNTED).to_numpy() & incoming["kind"].isin(matcher.DIRECT).to_numpy(), "code"])
    stored_events = _stored_events(db, [int(keys[c]) for c in sorted(touched) if keys[c] > 0],
                                   _most_of(db, orders.c.order_key, len(touched)))
    code_of_key = pd.Series(np.arange(len(keys)), index=keys)
    stored_events["code"] = code_of_key.reindex(stored_events["order_key"]).to_numpy()
    events = pd.concat([stored_events.rename(columns={"id": "key"}).drop(columns="order_key"),
                        fresh.assign(key=-(fresh["row"] + 1))[["key", "code", "kind", "amount", "occurred_on", "currency", "origin",
                                                                "covers_from"]]], ignore_index=True)
    if events.empty:
        return matcher.Exported({}, {}, pd.DataFrame(columns=matcher.MOVEMENT_COLUMNS))
    concerned = set(events["code"])
    new = matched.movements
    moved = pd.concat([stored[stored["code"].isin(concerned)], new[new["code"].isin(concerned)]], ignore_index=True)
    made = stored[stored["made_by"].notna()].groupby("made_by")["amount"].sum()
    first = -(len(new) + 1)
    return matcher.exports(events, moved, made, window, first_id=first)


def _stored_events(db: sa.Connection, keys: list[int], whole: bool) -> pd.DataFrame:
    """The shop's snapshots the journal holds of these orders (drops, rises, what was paid before it first saw one)."""
    columns = ["id", "order_key", "kind", "amount", "occurred_on", "currency", "origin"]
    query = sa.select(*(sa.cast(observations.c[c], sa.String) if c == "occurred_on" else observations.c[c] for c in columns)).where(
        observations.c.source == matcher.EXPORT, observations.c.kind.in_(matcher.AGGREGATE))
    return read_keyed(db, query, observations, columns, observations.c.order_key, keys, whole).assign(covers_from=pd.NaT)


def write(store: Store, arrival: Arrival, planned: Plan | None = None, db: sa.Connection | None = None) -> Plan:
    """Record an arrival: in the caller's transaction `db` (which must hold `store.writing()`), or in one of its own.
    A plan made before the lock is used when nothing was written since; else the arrival is planned again."""
    if db is None:
        with store.writing() as db:
            return write(store, arrival, planned, db)
    version = db.execute(sa.select(ledger_version.c.version).where(ledger_version.c.id == 1)).scalar() or 0
    if planned is None or planned.version != version:
        planned = plan(db, arrival)
    _write(db, planned)
    return planned


def _held(db: sa.Connection, order_ids: list) -> pd.DataFrame:
    """The journal's rows of these orders."""
    columns = [*ORDER_COLUMNS, "open_only", "details_digest", "view_digest"]
    selected = [sa.cast(orders.c[c], sa.String) if c == "seen_on" else orders.c[c] for c in columns]
    query = sa.select(*selected)
    return read_keyed(db, query, orders, columns, orders.c.order_id, order_ids, _most_of(db, orders.c.order_key, len(order_ids)))


def _orders(held: pd.DataFrame, details: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Every order involved (held ones first, then the export's new ones with negative keys), the new ones, and the
    new details digest of each held one whose details changed."""
    details = details.reset_index(drop=True)
    digest = _digest(details[DETAILS]) if len(details) else np.zeros(0, dtype="int64")
    known = details["order_id"].isin(held["order_id"]).to_numpy()
    fresh = details[~known].assign(details_digest=digest[~known])
    fresh.insert(0, "order_key", -np.arange(1, len(fresh) + 1, dtype="int64"))
    stored_digest = pd.Series(held["details_digest"].to_numpy(), index=held["order_id"].to_numpy())
    mine = details[known].assign(details_digest=digest[known])
    differs = mine["details_digest"].to_numpy() != stored_digest.reindex(mine["order_id"]).to_numpy()
    changed = mine[differs]
    current = held.set_index("order_id")
    if len(changed):
        current.loc[changed["order_id"], DETAILS[1:]] = changed.set_index("order_id")[DETAILS[1:]]
    book_orders = _joined([current.reset_index()[["order_key", *DETAILS, "seen_on"]],
                           fresh[["order_key", *DETAILS]].assign(seen_on=pd.NaT)])
    return (book_orders.astype({"order_key": "int64"}), fresh.reset_index(drop=True),
            pd.Series(changed["details_digest"].to_numpy(), index=changed["order_id"].to_numpy()))


def _order_rows(book_orders: pd.DataFrame, held: pd.DataFrame, fresh: pd.DataFrame, details_changed: pd.Series,
                digests: pd.Series, arrival: Arrival) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The new orders' rows, and the held orders' rows to update (new details, or a new view of the shop)."""
    fresh = fresh.assign(view_digest=digests.reindex(fresh["order_id"]).fillna(0).astype("int64").to_numpy(),
                         seen_on=pd.Timestamp(arrival.as_of), open_only=arrival.open_only)
    touched = held[held["order_id"].isin(set(details_changed.index) | set(digests.index))]
    current = book_orders.set_index("order_id").loc[touched["order_id"], DETAILS[1:]].reset_index()
    viewed = touched["order_id"].isin(digests.index).to_numpy()
    stored_digest = pd.Series(touched["details_digest"].to_numpy(), index=touched["order_id"].to_numpy())
    updates = current.assign(
        order_key=touched["order_key"].to_numpy(),
        details_digest=details_changed.reindex(touched["order_id"]).fillna(stored_digest).astype("int64").to_numpy(),
        view_digest=np.where(viewed, digests.reindex(touched["order_id"]).fillna(0).astype("int64").to_numpy(),
                             touched["view_digest"].to_numpy()),
        seen_on=pd.to_datetime(np.where(viewed, np.datetime64(arrival.as_of, "ns"), touched["seen_on"].to_numpy())),
        open_only=np.where(viewed, arrival.open_only, touched["open_only"].to_numpy()).astype(bool),
    )
    return fresh, updates


def _charges(db: sa.Connection, arrival: Arrival, book_orders: pd.DataFrame, held: pd.DataFrame, views: pd.DataFrame,
             code_of: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The charges of every order involved after this run (for the book), the charge rows to write, the export's
    observations (drops, rises, what was paid before an order was first seen), and the orders whose view changed."""
    views = views.reset_index(drop=True)
    view_digest = _view_digests(views)
    stored_digest = pd.Series(held["view_digest"].to_numpy(), index=held["order_id"].to_numpy())
    seen = pd.Series(held["seen_on"].to_numpy(), index=held["order_id"].to_numpy())
    in_view = view_digest.index
    is_held = in_view.isin(held["order_id"])
    open_only_held = set(held.loc[held["open_only"], "order_id"])
    later = pd.to_datetime(seen.reindex(in_view)).to_numpy() > np.datetime64(arrival.as_of)
    changed_view = is_held & ~later & ((view_digest.to_numpy() != stored_digest.reindex(in_view).to_numpy())
                                       | in_view.isin(open_only_held) | (arrival.open_only != _flag(held, in_view)))
    reread = set(in_view[changed_view]) | set(in_view[is_held & later]) | (set(held["order_id"]) - set(in_view))
    stored = _stored_charges(db, held[held["order_id"].isin(reread)]["order_key"].tolist())
    fees = _stored_charges(db, held["order_key"].tolist(), kinds=KINDS[1:],  # fees, interest, costs
                           whole=_most_of(db, orders.c.order_key, len(held)))
    key_of = pd.Series(book_orders["order_key"].to_numpy(), index=book_orders["order_id"].to_numpy())
    stored["order_id"] = pd.Series(key_of.index, index=key_of.to_numpy()).reindex(stored["order_key"]).to_numpy()

    as_view = views[~views["order_id"].isin(reread)]
    fresh = as_view[~as_view["order_id"].isin(held["order_id"])]
    merged, aggregates = _merge(stored, views[views["order_id"].isin(set(in_view[changed_view]))], seen, arrival, held)
    kept = stored[stored["order_id"].isin(set(in_view[is_held & later]) | (set(held["order_id"]) - set(in_view)))]
    installments = _joined([_as_charges(as_view), merged, kept[["order_id", "seq", "due_on", "amount", "shop_open"]]])
    charged = pd.DataFrame({
        "code": code_of.reindex(installments["order_id"]).to_numpy(), "kind": INSTALLMENT,
        "seq": installments["seq"].to_numpy(dtype="int64"), "due_date": pd.to_datetime(installments["due_on"]).to_numpy(),
        "amount": installments["amount"].to_numpy(dtype="int64"),
    })
    fee_rows = pd.DataFrame({"code": pd.Series(np.arange(len(key_of)), index=key_of.to_numpy()).reindex(fees["order_key"]).to_numpy(),
                             "kind": fees["kind"].to_numpy(dtype=object), "seq": fees["seq"].to_numpy(dtype="int64"),
                             "due_date": pd.to_datetime(fees["due_on"]).to_numpy(), "amount": fees["amount"].to_numpy(dtype="int64")})
    charged = _joined([charged, fee_rows]).astype({"code": "int64", "seq": "int64", "amount": "int64"})

    opening = _openings(fresh, arrival) if not arrival.open_only else empty_observations()
    to_write = _joined([_as_charges(fresh), merged])
    to_write.insert(0, "order_key", key_of.reindex(to_write.pop("order_id")).to_numpy())
    return charged, to_write, _joined([opening, aggregates]), view_digest[changed_view | ~is_held]


def _merge(stored: pd.DataFrame, views: pd.DataFrame, seen: pd.Series, arrival: Arrival,
           held: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held orders whose view changed: their installments as the export now states them (an export that states only
    what is open keeps the amounts first seen), and the drop or rise in what the shop says was paid."""
    if views.empty:
        return _as_charges(views), empty_observations()
    before = stored[stored["order_id"].isin(set(views["order_id"]))][["order_id", "seq", "due_on", "amount", "shop_open"]]
    now_ = _as_charges(views)
    both = now_.merge(before, on=["order_id", "seq"], how="outer", suffixes=("", "_before"), indicator=True)
    only_before, common = (both["_merge"] == "right_only").to_numpy(), (both["_merge"] == "both").to_numpy()
    for column in ("due_on", "amount", "shop_open"):
        both[column] = both[column].where(~only_before, both[f"{column}_before"])
    if arrival.open_only:
        both["amount"] = both["amount"].where(~common, both["amount_before"])
    merged = both[["order_id", "seq", "due_on", "amount", "shop_open"]].astype({"amount": "int64", "shop_open": "int64", "seq": "int64"})
    paid_now = (merged["amount"] - merged["shop_open"]).groupby(merged["order_id"]).sum()
    paid_before = (before["amount"] - before["shop_open"].fillna(0)).groupby(before["order_id"]).sum()
    delta = paid_now.sub(paid_before, fill_value=0).astype("int64")
    delta = delta[delta != 0]
    currency = pd.Series(held["currency"].to_numpy(), index=held["order_id"].to_numpy())
    digest = _view_digests(merged.rename(columns={"due_on": "due_date", "amount": "amount_due", "shop_open": "amount_open"}))
    kind = np.where(delta.to_numpy() > 0, matcher.DROP, matcher.RISE)
    day = arrival.as_of.isoformat()
    observed = pd.DataFrame({
        "source": matcher.EXPORT,
        "source_key": [f"{k}:{o}:{day}:{digest[o]:x}" for k, o in zip(kind, delta.index)],
        "origin": arrival.origin, "order_id": delta.index.to_numpy(dtype=object), "kind": kind, "amount": delta.to_numpy(),
        "currency": currency.reindex(delta.index).to_numpy(dtype=object), "occurred_on": pd.Timestamp(arrival.as_of),
        "reference": "", "note": "", "covers_from": pd.to_datetime(seen.reindex(delta.index)).to_numpy(),
    })
    return merged, observed


def _openings(fresh: pd.DataFrame, arrival: Arrival) -> pd.DataFrame:
    """Orders seen for the first time: what the export says was paid on them before (one observation each)."""
    paid = (fresh["amount_due"].astype("int64") - fresh["amount_open"].astype("int64")).groupby(fresh["order_id"]).sum()
    paid = paid[paid > 0]
    return pd.DataFrame({
        "source": matcher.EXPORT, "source_key": [f"opening:{o}" for o in paid.index], "origin": arrival.origin,
        "order_id": paid.index.to_numpy(dtype=object), "kind": matcher.OPENING, "amount": paid.to_numpy(dtype="int64"),
        "currency": "", "occurred_on": pd.Timestamp(arrival.as_of), "reference": "", "note": "", "covers_from": pd.NaT,
    })


def _incoming(db: sa.Connection, arrival: Arrival, aggregates: pd.DataFrame, waiting: pd.DataFrame,
              code_of: pd.Series) -> pd.DataFrame:
    """The observations to judge: this run's that are new to the journal, the export's, and those stored earlier for an
    order nobody knew that the journal now holds (with their ids)."""
    rows = _joined([arrival.observations.assign(covers_from=pd.NaT), aggregates])
    rows = rows.drop_duplicates(["source", "source_key"]).reset_index(drop=True)
    if len(rows):
        rows = rows[~_seen(db, rows)].reset_index(drop=True)
    rows = _joined([rows.assign(id=-1), waiting])
    rows["code"] = code_of.reindex(rows["order_id"]).fillna(-1).to_numpy(dtype="int64")
    rows["occurred_on"] = pd.to_datetime(rows["occurred_on"])
    rows["covers_from"] = pd.to_datetime(rows["covers_from"])
    rows["reference"] = rows["reference"].fillna("")
    rows["note"] = rows["note"].fillna("")
    rows["review"] = rows["review"].fillna(False).astype(bool)
    rows["amount"] = rows["amount"].astype("int64")
    blank = rows["currency"].fillna("") == ""
    if blank.any():  # the export's openings take their order's currency
        details = arrival.details if arrival.details is not None else pd.DataFrame(columns=DETAILS)
        rows.loc[blank, "currency"] = rows.loc[blank, "order_id"].map(dict(zip(details["order_id"], details["currency"])))
    rows["row"] = np.arange(len(rows))
    return rows


def _seen(db: sa.Connection, rows: pd.DataFrame) -> np.ndarray:
    """Which rows' (source, source key) the journal holds already."""
    seen = np.zeros(len(rows), dtype=bool)
    for source, group in rows.groupby("source"):
        keys = group["source_key"].astype(str)
        query = sa.select(observations.c.source_key).where(observations.c.source == source)
        held = read_keyed(db, query, observations, ["source_key"], observations.c.source_key, keys.tolist(),
                          _most_of(db, observations.c.id, len(group)))["source_key"]
        if len(held):
            where = rows.index.get_indexer(group.index)
            seen[where] = pc.is_in(arrow_strings(keys), value_set=arrow_strings(held)).to_numpy(zero_copy_only=False)
    return seen


def _waiting(db: sa.Connection, arriving: pd.Series) -> pd.DataFrame:
    """Observations stored for an order the journal did not know then, which it holds now or which this export brings."""
    columns = ["id", *OBSERVED_COLUMNS[:-1]]
    query = sa.select(*(observations.c[c] if c != "occurred_on" else sa.cast(observations.c.occurred_on, sa.String)
                        for c in columns)).where(observations.c.status == matcher.UNMATCHED, observations.c.order_id != "")
    frame = read_typed(db, query, observations, columns)
    if frame.empty:
        return frame.assign(covers_from=pd.NaT, review=False)
    held = {r[0] for start in range(0, len(frame), BATCH) for r in fetch(db, sa.select(orders.c.order_id).where(
        orders.c.order_id.in_(frame["order_id"].iloc[start:start + BATCH].tolist())))}
    mine = frame["order_id"].isin(held) | frame["order_id"].isin(set(arriving))
    return frame[mine].assign(covers_from=pd.NaT, review=False).reset_index(drop=True)


def _movements(db: sa.Connection, keys: np.ndarray, whole: bool) -> pd.DataFrame:
    columns = ["order_key", "id", "kind", "amount", "currency", "occurred_on", "source", "origin", "covers_from", "reverses",
               "made_by", "note", "recorded_at"]
    query = sa.select(*(sa.cast(movements.c[c], sa.String) if c in ("occurred_on", "covers_from") else movements.c[c]
                        for c in columns))
    frame = read_keyed(db, query, movements, columns, movements.c.order_key, [int(k) for k in keys], whole)
    frame["reverses"] = frame["reverses"].astype("Int64")
    frame["made_by"] = frame["made_by"].astype("Int64")
    return frame


def _known(db: sa.Connection, moved: pd.DataFrame, incoming: pd.DataFrame, code_of_key: pd.Series) -> matcher.Known:
    """What the matcher needs of the journal: the movements of the orders involved, which sources saw each, and the
    movements any incoming reference names (of any order)."""
    codes = set(incoming.loc[incoming["code"] >= 0, "code"])
    moved = moved[moved["code"].isin(codes)].reset_index(drop=True)
    ids = [int(i) for i in moved["id"]]
    links = []
    for start in range(0, len(ids), BATCH):
        links += fetch(db, sa.select(observations.c.movement_id, observations.c.source).where(
            observations.c.movement_id.in_(ids[start:start + BATCH]), observations.c.source != matcher.EXPORT))
    references = {}
    named = [r for r in pd.unique(incoming["reference"]) if r]
    query = (sa.select(observations.c.reference, movements.c.id, movements.c.order_key, movements.c.amount)
             .join(movements, movements.c.id == observations.c.movement_id).where(observations.c.reference != ""))
    if _most_of(db, observations.c.id, len(named)):  # one pass over the references the journal holds
        wanted = set(named)
        found = [r for r in fetch(db, query) if r[0] in wanted]
    else:
        found = [r for start in range(0, len(named), BATCH)
                 for r in fetch(db, query.where(observations.c.reference.in_(named[start:start + BATCH])))]
    references = {ref: (int(mid), int(code_of_key.get(key, -2)), int(amount)) for ref, mid, key, amount in found}
    return matcher.Known(moved, pd.DataFrame(links, columns=["movement_id", "source"]), references)


def _note_overpayments(planned: Plan) -> None:
    """A payment that takes its order past everything it owes is kept and said so."""
    incoming, matched = planned.incoming, planned.matched
    counted = incoming[(matched.status == matcher.COUNTED) & incoming["kind"].isin(matcher.DIRECT)]
    if counted.empty:
        return
    credit = planned.settled().credit
    over = counted[credit[counted["code"].to_numpy()] > 0]
    matched.note[over.index] = "overpayment: more than the order owes"


def _write(db: sa.Connection, planned: Plan) -> None:
    """Every row of the plan, ids handed out above the highest there is (the write lock is held)."""
    key_base = next_id(db, orders.c.order_key)
    move_base = next_id(db, movements.c.id)
    obs_base = next_id(db, observations.c.id)
    real_key = lambda k: np.where(k < 0, key_base - k - 1, k)  # noqa: E731
    real_move = lambda m: np.where(m < 0, move_base - m - 1, m)  # noqa: E731
    book_keys = real_key(planned.book.orders["order_key"].to_numpy(dtype="int64"))
    as_of = planned.arrival.as_of
    fresh = planned.new_orders
    if len(fresh):
        insert_new(db, orders, fresh.assign(order_key=real_key(fresh["order_key"].to_numpy(dtype="int64")))[
                   ["order_key", *DETAILS, "seen_on", "open_only", "details_digest", "view_digest"]], None, "updated_at")
    updates = planned.changed_orders
    if len(updates):
        values = [c for c in updates.columns if c not in ("order_id", "order_key")]
        db.execute(orders.update().where(orders.c.order_key == sa.bindparam("key")).values(
            {c: sa.bindparam(f"v_{c}") for c in values} | {"updated_at": now()}),
            [{"key": int(r["order_key"]), **{f"v_{c}": _plain_value(r[c]) for c in values}} for r in updates.to_dict("records")])
    rows = planned.charge_rows
    if len(rows):
        insert_new(db, charges, rows.assign(kind=INSTALLMENT, order_key=real_key(rows["order_key"].to_numpy(dtype="int64")),
                                            due_on=pd.to_datetime(rows["due_on"]))[
                   ["order_key", "kind", "seq", "due_on", "amount", "shop_open"]],
                   ["order_key", "kind", "seq"], None, update=["due_on", "amount", "shop_open"])
    rows = planned.incoming
    new_obs = (rows["id"] < 0).to_numpy()
    obs_ids = np.where(new_obs, obs_base + np.cumsum(new_obs) - 1, rows["id"].to_numpy(dtype="int64"))
    real_event = lambda k: int(obs_ids[-int(k) - 1]) if int(k) < 0 else int(k)  # noqa: E731
    moves = planned.new_movements
    if len(moves):
        insert_new(db, movements, pd.DataFrame({
            "id": real_move(moves["id"].to_numpy(dtype="int64")), "order_key": book_keys[moves["code"].to_numpy(dtype="int64")],
            "kind": moves["kind"], "amount": moves["amount"].astype("int64"), "currency": moves["currency"],
            "occurred_on": pd.to_datetime(moves["occurred_on"]), "source": moves["source"], "origin": moves["origin"],
            "covers_from": pd.to_datetime(moves["covers_from"]),
            "reverses": pd.array([None if pd.isna(r) else int(real_move(np.array([r]))[0]) for r in moves["reverses"]], dtype="Int64"),
            "made_by": pd.array([None if pd.isna(k) else real_event(k) for k in moves["made_by"]], dtype="Int64"),
            "note": moves["note"]}), None)
    _write_observations(db, planned, obs_ids, real_move, book_keys)
    _write_coverage(db, planned.exported, real_event, real_move)
    db.execute(sa.text("UPDATE ledger_version SET version = version + 1 WHERE id = 1"))


def _write_coverage(db: sa.Connection, exported: matcher.Exported, real_event, real_move) -> None:
    """What each replayed snapshot covers now (it replaces what it covered before), and the stored snapshots' status."""
    stored = [int(k) for k in exported.covers if k > 0]
    for start in range(0, len(stored), BATCH):
        db.execute(coverage.delete().where(coverage.c.observation_id.in_(stored[start:start + BATCH])))
    rows = [(real_event(k), int(real_move(np.array([m]))[0])) for k, ms in exported.covers.items() for m in ms]
    if rows:
        insert_new(db, coverage, pd.DataFrame(rows, columns=["observation_id", "movement_id"]), ["observation_id", "movement_id"], None)
    changed = [{"oid": int(k), "v_status": state} for k, state in exported.status.items() if k > 0]
    if changed:
        db.execute(observations.update().where(observations.c.id == sa.bindparam("oid")).values(status=sa.bindparam("v_status")),
                   changed)


def _write_observations(db: sa.Connection, planned: Plan, ids: np.ndarray, real_move, book_keys: np.ndarray) -> None:
    rows = planned.incoming
    matched = planned.matched
    code = rows["code"].to_numpy(dtype="int64")
    key = np.zeros(len(code), dtype="int64")
    key[code >= 0] = book_keys[code[code >= 0]]
    move = matched.movement.to_numpy(dtype="int64")
    frame = pd.DataFrame({
        "order_key": pd.Series(key, dtype="Int64").where(code >= 0, pd.NA),
        "status": matched.status.to_numpy(), "note": matched.note.astype(str).str.slice(0, 2000).to_numpy(),
        "movement_id": pd.Series(real_move(move), dtype="Int64").where(move != 0, pd.NA),
    })
    new = (rows["id"] < 0).to_numpy()
    if new.any():
        add = rows[new]
        insert_new(db, observations, pd.DataFrame({
            "id": ids[new], "source": add["source"], "source_key": add["source_key"].astype(str).str.slice(0, 400),
            "origin": add["origin"].astype(str).str.slice(0, 300), "order_id": add["order_id"].astype(str),
            "order_key": frame["order_key"][new].to_numpy(), "kind": add["kind"], "amount": add["amount"].astype("int64"),
            "currency": add["currency"].astype(str), "occurred_on": pd.to_datetime(add["occurred_on"]),
            "reference": add["reference"].astype(str).str.slice(0, 300), "status": frame["status"][new].to_numpy(),
            "movement_id": frame["movement_id"][new].to_numpy(), "note": frame["note"][new].to_numpy()}), None)
    if (~new).any():
        old = frame[~new].assign(id=ids[~new])
        db.execute(observations.update().where(observations.c.id == sa.bindparam("oid")).values(
            order_key=sa.bindparam("v_key"), status=sa.bindparam("v_status"), movement_id=sa.bindparam("v_move"),
            note=sa.bindparam("v_note")),
            [{"oid": int(r.id), "v_key": _plain_value(r.order_key), "v_status": r.status, "v_move": _plain_value(r.movement_id),
              "v_note": r.note} for r in old.itertuples()])


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one after the other, with every column any of them has. Empty ones are left out (they would make every
    column an object), and a text column that is Arrow's in one frame is made Arrow's in all (else pandas would turn
    each of its values into a Python string)."""
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    full = [f for f in frames if len(f)]
    if len(full) == 1:
        joined = full[0].reset_index(drop=True)
    else:
        text = {c: f[c].dtype for f in full for c in f.columns if isinstance(f[c].dtype, pd.StringDtype)}
        full = [f.astype({c: d for c, d in text.items() if c in f.columns and f[c].dtype == object}) for f in full]
        joined = pd.concat(full or frames[:1], ignore_index=True)
    missing = {c: pd.Series(None, index=joined.index, dtype=object) for c in columns if c not in joined.columns}
    return joined.assign(**missing)[columns] if missing else joined


def _most_of(db: sa.Connection, key: sa.Column, asked: int) -> bool:
    """Whether `asked` rows are read sooner as the whole table than asked for by key: more than WHOLE_TABLE, and a
    half or more of the rows the table holds (its highest key tells, through its index)."""
    return asked > WHOLE_TABLE and asked * 2 >= (db.execute(sa.select(sa.func.max(key))).scalar() or 0)


def _plain_value(value):
    """A value as a driver binds it: None for anything missing, Python ints and dates."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def _stored_charges(db: sa.Connection, keys: list[int], kinds: tuple[str, ...] = (INSTALLMENT,), whole: bool = False) -> pd.DataFrame:
    columns = ["order_key", "kind", "seq", "due_on", "amount", "shop_open"]
    query = sa.select(charges.c.order_key, charges.c.kind, charges.c.seq, sa.cast(charges.c.due_on, sa.String), charges.c.amount,
                      charges.c.shop_open).where(charges.c.kind.in_(kinds))
    frame = read_keyed(db, query, charges, columns, charges.c.order_key, [int(k) for k in keys], whole)
    frame["shop_open"] = frame["shop_open"].astype("Int64")
    frame["due_on"] = pd.to_datetime(frame["due_on"])
    return frame


def _as_charges(views: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"order_id": views["order_id"].array, "seq": views["seq"].to_numpy(dtype="int64"),
                         "due_on": pd.to_datetime(views["due_date"]).to_numpy(),
                         "amount": views["amount_due"].to_numpy(dtype="int64"), "shop_open": views["amount_open"].to_numpy(dtype="int64")})


def _flag(held: pd.DataFrame, order_ids: pd.Index) -> np.ndarray:
    return pd.Series(held["open_only"].to_numpy(), index=held["order_id"].to_numpy()).reindex(order_ids).fillna(False).to_numpy(bool)


def _digest(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit digest per row, to tell a changed row from one the journal holds."""
    return hash_pandas_object(frame.astype(str), index=False).to_numpy().view("int64")


def _view_digests(views: pd.DataFrame) -> pd.Series:
    """Per order, a digest of its installments (order-independent)."""
    if views.empty:
        return pd.Series(dtype="int64")
    days = pc.strftime(pa.array(pd.to_datetime(views["due_date"]).to_numpy(dtype="datetime64[s]")), format="%Y-%m-%d")
    rows = hash_pandas_object(pd.DataFrame({  # text hashed as Arrow's: each distinct value becomes a Python string once
        "o": views["order_id"], "s": views["seq"].astype("int64"), "d": pd.arrays.ArrowExtensionArray(days),
        "a": views["amount_due"].astype("int64"), "p": views["amount_open"].astype("int64")}), index=False).to_numpy()
    codes, uniques = pd.factorize(views["order_id"])
    out = np.zeros(len(uniques), dtype="uint64")
    np.bitwise_xor.at(out, codes, rows)
    return pd.Series(out.view("int64"), index=pd.Index(uniques, dtype=object))
