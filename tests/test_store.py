"""The store on SQLite and on PostgreSQL: migrations, idempotent batches, state changes, two writers."""
import subprocess
import sys
import textwrap
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dunning.journal.tables import metadata
from dunning.journal.store import Store
from dunning.journal.tables import FAILED, PREPARED, SENDING, SENT
from tests.conftest import observed


def row(order_id, stage="final", **changes):
    return dict(order_id=order_id, stage=stage, email=f"{order_id.lower()}@example.com", first_name="A", last_name="B",
                language="de", currency="EUR", open_amount=14970, fee=0, reason="no_response", token_id="t",
                subject="s", body_text="text", body_html="<p>html</p>") | changes


# SQLite cannot reflect an index on an expression (lower(email)): there it is skipped with these warnings; PostgreSQL
# compares it.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_build_exactly_the_tables_the_code_uses(database_url):
    store = Store(database_url)
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    Store(database_url)  # opening again is a no-op


def test_batches_are_idempotent_per_order_and_stage(database_url):
    store = Store(database_url)
    first = store.create_campaign("c1", "final", "outbox", date(2026, 11, 20), "")
    assert store.add_reminders(first, [row("A"), row("B")]) == 2
    assert store.add_reminders(first, [row("A"), row("C")]) == 1
    second = store.create_campaign("c2", "friendly", "outbox", date(2026, 11, 20), "")
    assert store.add_reminders(second, [row("A", stage="friendly")]) == 1
    assert store.counts(first) == {PREPARED: 3}
    assert set(map(tuple, store.reminded()[["order_id", "stage"]].to_numpy())) == {
        ("A", "final"), ("B", "final"), ("C", "final"), ("A", "friendly")}


def test_states_and_what_was_in_flight(database_url):
    store = Store(database_url)
    campaign = store.create_campaign("c1", "final", "outbox", date(2026, 11, 20), "")
    store.add_reminders(campaign, [row("A"), row("B"), row("C")])
    a, b, c = store.pending(campaign)
    assert store.claim(a, "me:1")
    store.mark_sent(a.id, "<m1@x>", date(2026, 11, 21))
    assert store.claim(b, "me:1") and store.claim(c, "me:1")
    assert not store.claim(b, "another:2")  # claimed already: the other sender loses it
    store.mark_failed(c.id, "550 no such user")
    pending = store.pending(campaign)
    assert [(p.order_id, p.status, p.attempts) for p in pending] == [("B", SENDING, 1)]
    assert store.counts(campaign) == {SENT: 1, SENDING: 1, FAILED: 1}
    history = store.history()
    assert history.to_dict("records") == [{"order_id": "A", "stage": "final", "about": "", "reminded_on": pd.Timestamp("2026-11-21")}]


WRITER = textwrap.dedent("""
    import sys
    from datetime import date
    import pandas as pd
    from dunning.journal import recording
    from dunning.journal.store import Store
    store = Store(sys.argv[1])
    campaign = store.campaign(sys.argv[2]).id
    for n in range(int(sys.argv[3])):
        rows = [dict(order_id=f"{sys.argv[2]}-{n}-{k}", stage="final", email="a@example.com", first_name="A", last_name="B",
                     language="de", currency="EUR", open_amount=1, fee=0, reason="x", token_id="t", subject="s",
                     body_text="t", body_html="h") for k in range(5)]
        store.add_reminders(campaign, rows)
        for reminder in store.pending(campaign)[:5]:
            store.claim(reminder, "writer:" + sys.argv[2])
            store.mark_sent(reminder.id, "<m>", date(2026, 11, 20))
        seen = pd.DataFrame([dict(source="file", source_key=f"{sys.argv[2]}-{n}-{k}", origin="t", order_id=f"{sys.argv[2]}-{n}-{k}",
                                  kind="payment", amount=1, currency="EUR", occurred_on=pd.Timestamp("2026-11-20"), reference="",
                                  note="", review=False) for k in range(3)])
        recording.write(store, recording.Arrival(as_of=date(2026, 11, 20), origin="t", observations=seen))
""")


def test_two_processes_writing_at_once_lose_and_double_nothing(database_url, tmp_path):
    """One sends a campaign while the other imports payments, both at once: nothing lost, nothing doubled."""
    store = Store(database_url)
    for name in ("left", "right"):
        store.create_campaign(name, "final", "outbox", date(2026, 11, 20), "")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    processes = [subprocess.Popen([sys.executable, str(script), database_url, name, "40"]) for name in ("left", "right")]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    with store.engine.connect() as db:
        total, distinct = db.execute(sa.text("SELECT count(*), count(DISTINCT order_id) FROM reminders")).one()
    assert total == distinct == 400
    assert store.counts(store.campaign("left").id) == {SENT: 200}
    paid = observed(store)
    assert len(paid) == paid["source_key"].nunique() == 240


def test_a_postgresql_store_without_its_driver_names_the_extra(monkeypatch):
    import pytest

    from dunning.errors import InputError

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as where `pip install .` left out the postgres extra
    with pytest.raises(InputError, match=r"needs dunning's postgres extra: pip install 'dunning\[postgres\]'"):
        Store("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_a_table_read_a_slice_at_a_time_is_the_table_read_at_once(database_url):
    """Large reads go a slice of rows at a time (the driver's tuples stay few): the frame is the same as one read's,
    empty dates, missing numbers and repeated text included."""
    from dunning.journal.sql import fetch, insert_new, read_keyed, read_typed, typed
    from dunning.journal.tables import movements, orders

    store = Store(database_url)
    columns = ["id", "order_key", "kind", "amount", "currency", "occurred_on", "source", "origin", "covers_from", "reverses", "note"]
    rows = pd.DataFrame({"id": range(1, 8), "order_key": [1, 1, 2, 2, 2, 3, 3], "kind": ["payment"] * 6 + ["refund"],
                         "amount": [100, 200, 300, 400, 500, 600, -600], "currency": "EUR",
                         "occurred_on": pd.to_datetime(["2026-01-0%d" % d for d in range(1, 8)]),
                         "source": ["file", "webhook", "file", "file", "statement", "file", "file"], "origin": "file:p.csv",
                         "covers_from": pd.to_datetime([None, None, "2026-01-01", None, None, None, None]),
                         "reverses": pd.array([None] * 6 + [6], dtype="Int64"), "note": ""})
    query = sa.select(*(sa.cast(movements.c[c], sa.String) if c in ("occurred_on", "covers_from") else movements.c[c] for c in columns)
                      ).order_by(movements.c.id)
    with store.writing() as db:
        insert_new(db, orders, [{"order_key": k, "order_id": f"O-{k}", "email": "", "first_name": "", "last_name": "", "language": "de",
                                 "product_name": "", "currency": "EUR", "status": "", "seen_on": date(2026, 1, 1)} for k in (1, 2, 3)],
                   None, "updated_at")
        insert_new(db, movements, rows, None)
    with store.engine.connect() as db:
        whole = typed(fetch(db, query), movements, columns)
        sliced = read_typed(db, query, movements, columns, slice_rows=2)
        keyed = [read_keyed(db, query, movements, columns, movements.c.order_key, [1, 3], w, slice_rows=2) for w in (True, False)]
        none = read_keyed(db, query, movements, columns, movements.c.order_key, [9], False)
    pd.testing.assert_frame_equal(sliced, whole)
    wanted = whole[whole["order_key"].isin([1, 3])].reset_index(drop=True)
    for frame in keyed:  # the whole table filtered, or asked by key: the same rows (a date column empty in them all: any unit)
        ns = {"covers_from": "datetime64[ns]"}
        pd.testing.assert_frame_equal(frame.astype(ns), wanted.astype(ns))
    assert none.empty and list(none.columns) == columns
    assert sliced["covers_from"].isna().sum() == 6 and sliced["reverses"].tolist()[-1] == 6 and sliced["note"].tolist() == [""] * 7


def test_a_page_view_finds_the_orders_last_reminder_by_index(database_url):
    """The manage page asks, at every view, for the order's last reminder sent: the database finds it by an index on
    the order, never by going through every reminder sent (SQLite chose the status index before there was one)."""
    from dunning.journal.sql import _compiled
    from dunning.manage import _ORDER

    store = Store(database_url)
    with store.engine.connect() as db:
        compiled = _compiled(_ORDER, db.dialect)
        params = compiled.construct_params({"order_id": "A-1"})
        args = tuple(params[name] for name in compiled.positiontup) if compiled.positiontup else params
        cursor = db.connection.dbapi_connection.cursor()
        if db.dialect.name == "sqlite":
            plan = " ".join(str(row) for row in cursor.execute("EXPLAIN QUERY PLAN " + compiled.string, args))
            assert plan.count("ix_reminders_order_reminded_on") == 2 and "ix_reminders_status" not in plan, plan
        else:  # PostgreSQL plans by its statistics: on empty tables, a scan is cheapest unless it is ruled out
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + compiled.string, args)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "ix_reminders_status" not in plan and "reminders_order" in plan, plan
