"""One screen: every benchmark's ratio next to its aim (from the figures the benchmarks left in bench/data/results)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import load  # noqa: E402

# (benchmark, what, key path, aim, higher is better)
ROWS = [
    ("overdue", "time vs DuckDB, same checks and ledger rows (aim at 1M orders)", ("ratio_vs_duckdb",), 2.0, False),
    ("overdue", "the same, links signed and recorded", ("ratio_with_links_vs_duckdb",), 2.0, False),
    ("overdue", "time vs DuckDB with the same checks, recording nothing", ("ratio_vs_duckdb_not_recording",), None, False),
    ("overdue", "--dry-run vs DuckDB, both recording nothing", ("ratio_dry_run_vs_duckdb",), 2.0, False),
    ("overdue", "a second run on the filled ledger vs the first", ("ratio_second_run_vs_first",), 1.2, False),
    ("overdue", "export vs overdue on the same files", ("ratio_export_vs_overdue",), 1.5, False),
    ("overdue", "time vs DuckDB's simple query", ("ratio_vs_duckdb_simple",), None, False),
    ("overdue", "peak memory of dunning (MiB; aim at 1M orders)", ("dunning_peak_mib",), 1536, False),
    ("export", "mailchimp file vs pandas to_csv", ("tools", "mailchimp", "ratio_vs_to_csv"), None, False),
    ("campaign", "rendering vs mailmerge (messages/s)", ("render_ratio_vs_mailmerge",), 10.0, True),
    ("campaign", "sending vs mailmerge, loopback sink (messages/s)", ("loopback_send_ratio_vs_mailmerge",), 3.0, True),
    ("campaign", "sending vs mailmerge, sink 2 ms away (messages/s)", ("across_send_ratio_vs_mailmerge",), 3.0, True),
    ("web", "manage page share of bare Flask (req/s)", ("page_share_of_ceiling",), 0.5, True),
    ("web", "manage page p99 (ms)", ("manage_page", "p99_ms"), 15.0, False),
    ("web_1_workers", "the share with one gunicorn worker on the server's core", ("page_share_of_ceiling",), None, True),
    ("report", "report vs SQLite's own query", ("ratio_vs_sqlite_query",), None, False),
    ("letters", "printed letters vs WeasyPrint alone", ("ratio_vs_weasyprint",), None, False),
]


def main() -> None:
    print(f"{'benchmark':<13} {'measure':<64} {'figure':>9} {'aim':>8}  met")
    for bench, what, path, aim, higher in ROWS:
        found = load(bench)
        value = found
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            print(f"{bench:<13} {what:<64} {'not run':>9}")
            continue
        met = "-" if aim is None else ("yes" if (value >= aim if higher else value <= aim) else "no")
        if "aim at 1M" in what and found.get("orders", 0) < 1_000_000:
            met = f"- ({found['orders']:,} orders)"
        aim_text = "-" if aim is None else (f">= {aim:g}" if higher else f"<= {aim:g}")
        print(f"{bench:<13} {what:<64} {value:>9} {aim_text:>8}  {met}")


if __name__ == "__main__":
    main()
