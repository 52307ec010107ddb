"""The library's calls for a notebook or a script, each the twin of a command (see the README's Library section)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dunning.sources import loader, profiles
from dunning.sources.profiles import Profile


def read_orders(source: str | Path | pd.DataFrame, profile: str | Path | Profile = "generic", name: str = "orders") -> loader.OrderExport:
    """An order export (CSV, XLSX, Parquet, or a DataFrame already in memory) through a profile (a built-in
    name, a TOML path, or a Profile): canonical orders and receivables or plans, and the rows rejected."""
    return loader.read_orders(source, _profile(profile), name)


def read_payments(source: str | Path | pd.DataFrame, profile: str | Path | Profile = "generic",
                  name: str = "payments") -> loader.PaymentExport:
    """A payments file (or a DataFrame) through a profile: canonical payments, and the rows rejected."""
    return loader.read_payments(source, _profile(profile), name)


def _profile(profile: str | Path | Profile) -> Profile:
    return profile if isinstance(profile, Profile) else profiles.load(profile)
