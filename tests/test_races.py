"""Two processes at once, on SQLite and PostgreSQL: the database settles who records what."""
import json
import subprocess
import sys

from typer.testing import CliRunner

from dunning.cli import app
from dunning.store import Store

KEY = "race-key-0123456789abcdef0123456789"
HEADER = "order_id,email,first_name,last_name,language,currency,status,due_date,open_amount"


def export(path, amounts):
    rows = [f"O-{n},c{n}@example.com,A,B,en,EUR,pending,2026-10-01,{amount}" for n, amount in enumerate(amounts)]
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    return path


def test_two_imports_of_the_same_later_export_record_each_drop_once(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DUNNING_SECRET_KEYS", KEY)
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    first = export(tmp_path / "first.csv", ["100.00"] * 60)
    later = export(tmp_path / "later.csv", ["40.00"] * 60)
    handed = CliRunner().invoke(app, ["export", str(first), "--to", "generic", "--as-of", "2026-11-01", "--json"])
    assert handed.exit_code == 0, handed.output
    command = [sys.executable, "-m", "dunning", "track", "import", str(later), "--as-of", "2026-11-10"]
    env = {**__import__("os").environ, "DUNNING_SECRET_KEYS": KEY, "DUNNING_DATABASE_URL": database_url}
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    counts = [int(out.split(" new drops")[0].split()[-1]) for out, _ in outputs]
    assert sum(counts) == 60  # each drop recorded by exactly one of them
    drops = Store(database_url).payments_frame().query("kind == 'drop'")
    assert len(drops) == 60 and int(drops["amount"].sum()) == 60 * 6000
    report = CliRunner().invoke(app, ["report", "--as-of", "2026-11-30", "--json"])
    eur = json.loads(report.stdout)["by currency"][0]
    assert (eur["orders_reminded"], eur["amount_recovered"], eur["still_open"]) == (60, "3600.00", "2400.00")
