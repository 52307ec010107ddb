"""The overdue benchmark's reference does what dunning does: on an export and a payments file full of what the checks
catch, both reject the same rows, find the same orders and amounts, and leave the same rows in the ledger."""
from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("duckdb", reason="the benchmark's reference needs DuckDB (the bench extra)")
BENCH = Path(__file__).parent.parent / "bench"
DATA = Path(__file__).parent / "data" / "bench_reference"
sys.path.insert(0, str(BENCH))
import overdue as benchmark  # noqa: E402


def _rejected(path: Path) -> set[tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {(Path(r["file"]).name, r["row"], r["column"]) for r in csv.DictReader(handle)}


def test_the_reference_checks_finds_and_records_what_dunning_does(tmp_path):
    plans, payments = DATA / "plans.csv", DATA / "payments.csv"
    as_of = date(2026, 11, 20)
    for variant, extra in (("duckdb_recording", []), ("dunning", ["--rejects", str(tmp_path / "dunning.rejects.csv")])):
        command, env = benchmark.command_for(variant, plans, payments, as_of, tmp_path / f"{variant}.csv")
        benchmark.timed(command + extra, env)
    assert _rejected(tmp_path / "dunning.rejects.csv") == _rejected(tmp_path / "duckdb_recording.rejects.csv") == {
        ("plans.csv", "5", "order_id"), ("plans.csv", "6", "order_id"),  # A3 twice, with different amounts
        ("plans.csv", "7", "status"),  # "frozen" is no status
        ("payments.csv", "4", "payment_id"), ("payments.csv", "5", "payment_id"),  # P2 twice, on different days
        ("payments.csv", "6", "paid_at"),  # after the as-of date
        ("payments.csv", "7", "currency"),  # EUR for an order in USD
        ("payments.csv", "8", "amount"),  # zero
    }
    assert benchmark.agree(tmp_path / "dunning.csv", tmp_path / "duckdb_recording.csv") == {
        "EUR": {"orders": 2, "open_minor": 55000}, "USD": {"orders": 1, "open_minor": 28000}}
    assert benchmark.same_ledger(tmp_path / "dunning.ledger.sqlite3", tmp_path / "duckdb_recording.ledger.sqlite3") == {
        "orders": 4, "charges": 24, "movements": 2, "observations": 3}
