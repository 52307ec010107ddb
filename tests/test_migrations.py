"""An existing store from before the ledger is brought up to date, keeping what it knew."""
from contextlib import contextmanager
from datetime import date, datetime, timezone
from importlib import resources

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dunning import manage, tracking
from dunning.errors import InputError
from dunning.journal import balance
from dunning.journal.store import Store
from tests.conftest import observed

STAMP = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)


@contextmanager
def store_at(database_url: str, revision: str):
    """A connection to a store brought to an earlier revision, for a test to write what a ledger of then held."""
    engine = sa.create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        yield connection
    engine.dispose()


def test_a_store_from_before_the_ledger_is_upgraded(database_url):
    with store_at(database_url, "0003") as connection:
        connection.execute(sa.text(
            "INSERT INTO campaigns (id, name, stage, channel, as_of, definition, prepared_at) "
            "VALUES (1, 'november', 'final', 'smtp', '2026-11-20', '', :t)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO reminders (campaign_id, order_id, stage, email, first_name, last_name, language, currency, "
            "open_amount, fee, reason, token_id, subject, body_text, body_html, status, prepared_at, sent_at) VALUES "
            "(1, 'A', 'final', 'a@example.com', 'A', 'B', 'de', 'EUR', 14970, 0, 'manual_payment', 't', 's', 't', 'h', "
            "'sent', :t, :t), (1, 'B', 'final', 'b@example.com', 'A', 'B', 'de', 'EUR', 5000, 0, 'no_response', 't', "
            "'s', 't', 'h', 'prepared', :t, NULL)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO snapshots (source, kind, as_of, order_id, stage, reason, payment_method, currency, open_amount, "
            "days_overdue, recorded_at) VALUES ('november', 'reminded', '2026-11-20', 'A', 'final', 'manual_payment', "
            "'bank_transfer', 'EUR', 14970, 30, :t), ('overdue-2026-11-20', 'reminded', '2026-11-20', 'C', '', "
            "'no_response', 'card', 'EUR', 900, 2, :t)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO orders (order_id, email, first_name, last_name, language, product_name, currency, fee, "
            "installments, as_of, updated_at) VALUES ('A', 'a@example.com', 'A', 'B', 'de', 'Kurs', 'EUR', 0, "
            ":plan, '2026-11-20', :t)"),
            {"t": STAMP, "plan": '[{"seq": 1, "due_date": "2026-10-01", "due": 9970, "paid": 0, "open": 9970},'
                                 ' {"seq": 2, "due_date": "2026-11-01", "due": 5000, "paid": 0, "open": 5000}]'})

    store = Store(database_url)  # opening it runs the ledger migration
    history = store.history()
    assert history.to_dict("records") == [{"order_id": "A", "stage": "final", "about": "", "reminded_on": pd.Timestamp("2026-11-20")}]
    rows = tracking.recovery(store, date(2026, 11, 30))
    assert rows[["order_id", "payment_method", "days_overdue", "reminded"]].to_dict("records") == [
        {"order_id": "A", "payment_method": "bank_transfer", "days_overdue": 30, "reminded": 14970}]  # C was a look
    with store.engine.connect() as db:
        held = balance.book(db)
    assert held.charges[["seq", "amount"]].to_dict("records") == [{"seq": 1, "amount": 9970}, {"seq": 2, "amount": 5000}]
    assert manage.view(store, "A", date(2026, 11, 30)).open_now == 14970


def test_a_ledger_of_payments_becomes_a_journal(database_url):
    """Payments of every source, drops, a payment for an unknown order and a sent fee come over with their history:
    each euro counted as the old rule counted it, each fee only where its reminder was sent."""
    with store_at(database_url, "0007") as connection:
        connection.execute(sa.text(
            "INSERT INTO orders (order_id, email, first_name, last_name, language, product_name, currency, fee, as_of, updated_at) "
            "VALUES ('A', 'a@example.com', 'A', 'B', 'de', 'Kurs', 'EUR', 500, '2026-11-10', :t), "
            "('B', 'b@example.com', 'B', 'C', 'de', 'Kurs', 'EUR', 0, '2026-11-10', :t)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO installments (order_id, seq, due_date, amount_due, amount_open) VALUES "
            "('A', 1, '2026-10-01', 10000, 6000), ('A', 2, '2026-11-01', 10000, 10000), ('B', 1, '2026-10-01', 5000, 5000)"))
        connection.execute(sa.text(
            "INSERT INTO payments (payment_id, order_id, paid_at, amount, currency, kind, source, flag, recorded_at) VALUES "
            "('webhook:pi_1', 'A', '2026-10-05', 3000, 'EUR', 'payment', 'webhook', '', :t), "
            "('drop:A:2026-11-10', 'A', '2026-11-10', 4000, 'EUR', 'drop', 'export:later.csv', '', :t), "
            "('file:pay.csv:B:2026-10-20:1000:0', 'B', '2026-10-20', 1000, 'EUR', 'payment', 'file:pay.csv', '', :t), "
            "('statement:R9', 'B', '2026-10-25', -1000, 'EUR', 'payment', 'statement:s.xml', 'return AM04', :t), "
            "('x-1', 'Z', '2026-10-20', 700, 'EUR', 'payment', 'file:pay.csv', 'unrelated', :t), "
            "('left:B', 'B', '2026-11-10', 5000, 'EUR', 'left_list', 'export:later.csv', '', :t)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO campaigns (id, name, stage, channel, as_of, definition, prepared_at) "
            "VALUES (1, 'second', 'second', 'outbox', '2026-11-10', '', :t)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO reminders (campaign_id, order_id, stage, email, first_name, last_name, language, currency, open_amount, "
            "fee, reason, token_id, subject, body_text, body_html, status, prepared_at, sent_at, reminded_on, about) VALUES "
            "(1, 'A', 'second', 'a@example.com', 'A', 'B', 'de', 'EUR', 6000, 250, 'x', 't', 's', 't', 'h', 'sent', :t, :t, "
            "'2026-11-10', ''), (1, 'B', 'second', 'b@example.com', 'B', 'C', 'de', 'EUR', 5000, 250, 'x', 't', 's', 't', 'h', "
            "'prepared', :t, NULL, NULL, '')"), {"t": STAMP})

    store = Store(database_url)
    paid = tracking.payments_known(store).set_index("payment_id")
    assert paid["amount"].to_dict() == {"webhook:pi_1": 3000, "export:drop:A:2026-11-10": 1000, "file:row:B|2026-10-20|1000|EUR|payment|0": 1000,
                                        "statement:R9": -1000}  # the drop counts only beyond the webhook's 30.00
    with store.engine.connect() as db:
        owed = balance.of_orders(db, date(2026, 11, 30)).set_index("order_id")
    assert owed.loc["A", ["due_open", "fees_open"]].tolist() == [16000, 250]  # the fee of the reminder sent, not the look's 5.00
    assert owed.loc["B", ["due_open", "fees_open"]].tolist() == [5000, 0]  # paid, then returned; its fee was never sent
    seen = observed(store).set_index("source_key")
    assert seen.loc["x-1", ["status", "order_id"]].tolist() == ["unmatched", "Z"]  # waits for its order
    assert seen.loc["left:B", "status"] == "noted" and seen.loc["R9", "kind"] == "return"


def test_the_store_knows_the_newest_migration(database_url):
    """A store at HEAD_REVISION skips the migration tool: the constant must be alembic's own head."""
    from alembic.script import ScriptDirectory

    from dunning.journal.store import HEAD_REVISION

    config = Config()
    config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
    store = Store(database_url)
    assert store.revision() == HEAD_REVISION


def test_a_store_from_a_newer_dunning_is_one_sentence(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'dunning.sqlite3'}")
    with store.engine.begin() as db:
        db.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(InputError, match=r"was made by a newer dunning \(its schema is at revision 0099; this dunning "
                                         r"knows up to 00\d\d\): upgrade dunning to open it"):
        Store(f"sqlite:///{tmp_path / 'dunning.sqlite3'}")


def test_forints_kept_in_whole_units_become_iso_minor_units(database_url):
    """A ledger written while HUF had no decimals (babel's CLDR digits) keeps its money: 3892 HUF stays 3892.00 HUF,
    its 1000 HUF payment stays 1000.00; a euro amount is not touched."""
    with store_at(database_url, "0010") as connection:
        connection.execute(sa.text(
            "INSERT INTO orders (order_key, order_id, email, first_name, last_name, language, product_name, currency, seen_on, "
            "updated_at) VALUES (1, 'H-1', 'h@example.com', 'H', 'U', 'hu', 'Kurs', 'HUF', '2026-11-01', :t), "
            "(2, 'E-1', 'e@example.com', 'E', 'U', 'de', 'Kurs', 'EUR', '2026-11-01', :t)"), {"t": STAMP})
        connection.execute(sa.text(
            "INSERT INTO charges (order_key, kind, seq, due_on, amount, shop_open) VALUES "
            "(1, 'installment', 1, '2026-10-01', 3892, 3892), (2, 'installment', 1, '2026-10-01', 3892, NULL)"))
        for key, currency, n in ((1, "HUF", 1), (2, "EUR", 2)):
            connection.execute(sa.text(
                "INSERT INTO observations (id, source, source_key, order_id, order_key, kind, amount, currency, occurred_on, "
                "status, movement_id, recorded_at) VALUES (:n, 'file', :k, :o, :key, 'payment', 1000, :c, '2026-10-05', "
                "'counted', :n, :t)"), {"n": n, "k": f"row{n}", "o": f"{'H' if n == 1 else 'E'}-1", "key": key, "c": currency,
                                        "t": STAMP})
            connection.execute(sa.text(
                "INSERT INTO movements (id, order_key, kind, amount, currency, occurred_on, source, recorded_at) VALUES "
                "(:n, :key, 'payment', 1000, :c, '2026-10-05', 'file', :t)"), {"n": n, "key": key, "c": currency, "t": STAMP})

    store = Store(database_url)
    with store.engine.connect() as db:
        owed = balance.of_orders(db, date(2026, 11, 30)).set_index("order_id")
        shop_open = db.execute(sa.text("SELECT shop_open FROM charges WHERE order_key = 1")).scalar_one()
    assert owed.loc["H-1", "due_open"] == 289200 and shop_open == 389200  # 2892.00 HUF open, as 2892 was
    assert owed.loc["E-1", "due_open"] == 2892  # 28.92 EUR, untouched
