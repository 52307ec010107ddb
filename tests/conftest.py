"""Shared fixtures: sample paths, a signing key, and small exports written per test."""
from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "data" / "samples"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def signing_key(monkeypatch) -> str:
    key = "test-key-0123456789abcdef"
    monkeypatch.setenv("DUNNING_SECRET_KEYS", key)
    return key


@pytest.fixture
def no_signing_key(monkeypatch) -> None:
    monkeypatch.delenv("DUNNING_SECRET_KEYS", raising=False)


@pytest.fixture
def write_csv(tmp_path):
    """Write rows (first row = header) as a CSV file and return its path."""

    def write(rows: list[list[str]], name: str = "export.csv", delimiter: str = ",", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        text = "\n".join(delimiter.join(r) for r in rows) + "\n"
        path.write_bytes(text.encode(encoding))
        return path

    return write
