"""Filter values as the user wrote them, checked and turned into the canonical values the data holds.

`--stage finale`, `--kind abo` or `--method PayPal` must not quietly match nothing: a value is
matched case-insensitively, through the profile's value map (`PayPal` -> `paypal`), and an unknown
one is an error that names it and lists the values there are.
"""
from __future__ import annotations

from dataclasses import replace

from dunning.errors import InputError
from dunning.money import known_currencies
from dunning.exclusions import Filters
from dunning.overdue import MANUAL_METHODS
from dunning.policy import Policy
from dunning.sources.loader import KINDS, OrderExport

KNOWN_METHODS = MANUAL_METHODS | {"paypal", "card", "sepa_debit", "klarna", "apple_pay", "google_pay"}


def checked(filters: Filters, export: OrderExport, policy: Policy) -> Filters:
    """The filters with every value canonical, or InputError naming the first unknown one."""
    methods = set(export.orders["payment_method"].dropna().unique()) | KNOWN_METHODS
    return replace(
        filters,
        stages=_canonical(filters.stages, "--stage", policy.stage_names(), {}),
        kinds=_canonical(filters.kinds, "--kind", KINDS, export.profile.values.get("kind", {})),
        payment_methods=_canonical(filters.payment_methods, "--method", sorted(m for m in methods if m),
                                   export.profile.values.get("payment_method", {})),
        currencies=_canonical(filters.currencies, "--currency", sorted(known_currencies()), {}),
    )


def _canonical(values: tuple[str, ...], option: str, valid: list[str] | tuple[str, ...], mapped: dict[str, str]) -> tuple[str, ...]:
    by_fold = {v.casefold(): v for v in valid}
    through_map = {k.casefold(): v for k, v in mapped.items()}
    out = []
    for value in values:
        key = value.strip().casefold()
        key = through_map.get(key, key).casefold()
        canonical = by_fold.get(key) or by_fold.get(key.replace(" ", "_").replace("-", "_"))
        if canonical is None:
            shown = ", ".join(valid) if len(valid) <= 30 else ", ".join(list(valid)[:30]) + ", ..."
            raise InputError(f"{option} {value!r} matches nothing: the values are {shown}")
        out.append(canonical)
    return tuple(out)


