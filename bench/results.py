"""Where each benchmark leaves its figures (bench/data/results/<name>.json) for the summary."""
from __future__ import annotations

import json
from pathlib import Path

FOLDER = Path(__file__).parent / "data" / "results"


def save(name: str, report: dict) -> None:
    """Print the benchmark's figures and keep them for `bench/summary.py`."""
    print(json.dumps(report, indent=2))
    FOLDER.mkdir(parents=True, exist_ok=True)
    (FOLDER / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")


def load(name: str) -> dict | None:
    path = FOLDER / f"{name}.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else None
