"""Shared fixtures: sample paths, a signing key, and small exports written per test."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "data" / "samples"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(autouse=True)
def own_workspace(tmp_path, monkeypatch):
    """Every test runs in a folder of its own, so the store a command opens there (the ledger) is its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUNNING_DATABASE_URL", raising=False)


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def signing_key(monkeypatch) -> str:
    key = "test-key-0123456789abcdef-0123456789"
    monkeypatch.setenv("DUNNING_SECRET_KEYS", key)
    return key


@pytest.fixture
def no_signing_key(monkeypatch) -> None:
    monkeypatch.delenv("DUNNING_SECRET_KEYS", raising=False)


def allow_skipping_stages(workspace: Path) -> None:
    """Let a workspace's orders go straight to the stage their days reached (for tests of one stage's mechanics)."""
    settings = workspace / "dunning.toml"
    settings.write_text(settings.read_text("utf-8").replace("skip_stages = false", "skip_stages = true"), "utf-8")


def campaign_workspace(folder: Path, campaign: str, definition: str) -> Path:
    """A workspace with the example data, stages by days alone, and one campaign (campaigns/<campaign>.toml)."""
    import shutil

    from dunning import config

    config.init(folder)
    allow_skipping_stages(folder)
    shutil.copytree(EXAMPLES, folder / "examples")
    (folder / "campaigns" / f"{campaign}.toml").write_text(definition, "utf-8")
    return folder


@pytest.fixture
def write_csv(tmp_path):
    """Write rows (first row = header) as a CSV file and return its path."""

    def write(rows: list[list[str]], name: str = "export.csv", delimiter: str = ",", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        text = "\n".join(delimiter.join(r) for r in rows) + "\n"
        path.write_bytes(text.encode(encoding))
        return path

    return write


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty store database: an SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    base = os.environ.get("DUNNING_TEST_DATABASE_URL")
    if not base:
        pytest.skip("DUNNING_TEST_DATABASE_URL is not set: no PostgreSQL server to test the shared store against")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as db:
        db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as db:
        db.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def observed(store) -> "pd.DataFrame":
    """Every observation of money the store's journal holds (source, source_key, order_id, kind, amount, status, ...)."""
    from dunning.journal.tables import observations

    return store.frame(observations, [c.name for c in observations.c if c.name != "recorded_at"])


def moved(store) -> "pd.DataFrame":
    """Every movement of money the store's journal holds, with its order's id."""
    from dunning.tracking import payments_known

    return payments_known(store)


def reference_of(store, order_id: str) -> str:
    """The creditor reference the order's page shows: its id and its number in the ledger."""
    from dunning.bank import creditor_reference
    from dunning.journal.tables import orders

    keys = store.frame(orders, ["order_key", "order_id"]).set_index("order_id")["order_key"]
    return creditor_reference(order_id, int(keys[order_id]))
