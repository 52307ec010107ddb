"""Read an export (and a payments file) with the configured profiles and find what is overdue."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd

from dunning.config import Settings
from dunning.errors import InputError
from dunning.overdue import Filters, OverdueResult, find
from dunning.sources import loader, profiles


@dataclass
class Found:
    """The export read, the payments read (if any), and the overdue result."""

    export: loader.OrderExport
    payments: loader.PaymentExport | None
    result: OverdueResult


def find_overdue(
    settings: Settings, file: Path, *, as_of: date, payments: Path | None = None, profile: str | None = None,
    payments_profile: str | None = None, grace: int | None = None, filters: Filters = Filters(),
    last_reminded: pd.DataFrame | None = None, on_step: Callable[[str], None] = lambda text: None,
) -> Found:
    """The whole read-and-find step; `on_step` hears what is being done (for a progress display)."""
    policy = settings.policy
    if grace is not None:
        if grace < 0:
            raise InputError("--grace must be 0 or more days")
        policy = replace(policy, grace_days=grace)
    inputs = settings.section("input")
    on_step(f"reading {file.name}")
    export = loader.read_orders(file, profiles.load(profile or inputs.get("profile", "generic")))
    paid = None
    if payments is not None:
        on_step(f"reading {payments.name}")
        paid = loader.read_payments(payments, profiles.load(payments_profile or inputs.get("payments_profile", "generic")))
    on_step("allocating payments and finding what is overdue")
    result = find(
        export.orders, export.receivables_until(as_of), as_of, policy,
        payments=paid.payments if paid else None, filters=filters, last_reminded=last_reminded,
    )
    return Found(export, paid, result)
