"""An existing store from before the ledger is brought up to date, keeping what it knew."""
from datetime import date, datetime, timezone
from importlib import resources

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dunning import ledger_store, manage, tracking
from dunning.store import Store

STAMP = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)


def test_a_store_from_before_the_ledger_is_upgraded(database_url):
    engine = sa.create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
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
    engine.dispose()

    store = Store(database_url)  # opening it runs the ledger migration
    history = store.history()
    assert history.to_dict("records") == [{"order_id": "A", "stage": "final", "about": "", "reminded_on": pd.Timestamp("2026-11-20")}]
    rows = tracking.recovery(store, date(2026, 11, 30))
    assert rows[["order_id", "payment_method", "days_overdue", "reminded"]].to_dict("records") == [
        {"order_id": "A", "payment_method": "bank_transfer", "days_overdue": 30, "reminded": 14970}]  # C was a look
    views = ledger_store.load(store).views
    assert views[["order_id", "seq", "amount_open"]].to_dict("records") == [
        {"order_id": "A", "seq": 1, "amount_open": 9970}, {"order_id": "A", "seq": 2, "amount_open": 5000}]
    assert manage.view(store, "A", date(2026, 11, 30)).open_now == 14970


def test_the_store_knows_the_newest_migration(database_url):
    """A store at HEAD_REVISION skips the migration tool: the constant must be alembic's own head."""
    from alembic.script import ScriptDirectory

    from dunning.store import HEAD_REVISION

    config = Config()
    config.set_main_option("script_location", str(resources.files("dunning") / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
    store = Store(database_url)
    assert store.revision() == HEAD_REVISION
