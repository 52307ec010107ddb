"""Profiles: TOML files that map a platform's export columns and formats to the canonical ones."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from dunning.errors import InputError

ORDER_COLUMNS = (
    "order_id", "email", "first_name", "last_name", "full_name", "language", "product_name",
    "kind", "payment_method", "currency", "status", "created_at", "customer_id", "failure",
    "company", "address_line1", "address_line2", "postal_code", "city", "region", "country",
)
RECEIVABLE_COLUMNS = ("due_date", "open_amount", "paid_amount", "total_amount")
PLAN_COLUMNS = (
    "start_date", "interval", "interval_count", "interval_unit", "installments",
    "installment_amount", "end_date", "first_payment_discount", "next_payment_date",
)
PAYMENT_COLUMNS = ("paid_at", "amount", "payment_id")
CANONICAL_COLUMNS = frozenset(ORDER_COLUMNS + RECEIVABLE_COLUMNS + PLAN_COLUMNS + PAYMENT_COLUMNS)

VALUE_MAPPED = ("status", "payment_method", "kind", "failure", "language", "interval_unit")
STATUSES = frozenset({
    "pending", "paid", "partially_paid", "active", "on_hold", "failed", "chargeback",
    "insufficient_funds", "cancelled", "refunded", "draft", "expired",
})

FORMAT_DEFAULTS: dict[str, object] = {
    "delimiter": "auto",
    "encoding": "auto",
    "decimal": ".",
    "thousands": "",
    "date_format": "%Y-%m-%d",
    "empty_values": [],
    "currency": "",
    "line_items": False,
    "order_id_template": "",
    "due_date_default": "",
    "sheet": "",
}


@dataclass(frozen=True)
class RowRule:
    """Keep only rows whose `column` is in `keep`, or drop rows whose value is in `drop`."""

    column: str
    reason: str
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """How one platform's export maps onto the canonical columns."""

    name: str
    description: str
    columns: dict[str, tuple[str, ...]]
    format: dict[str, object]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    extract: dict[str, str] = field(default_factory=dict)
    rules: tuple[RowRule, ...] = ()

    def fmt(self, key: str):
        """A [format] setting, or its default."""
        return self.format.get(key, FORMAT_DEFAULTS[key])

    def on_sheet(self, sheet: str | None) -> Profile:
        """This profile reading a workbook's sheet of that name (`--sheet`); itself when none is given."""
        return replace(self, format={**self.format, "sheet": sheet}) if sheet else self


def _check_shapes(data: dict, origin: str) -> None:
    """Each table of a profile is the shape it must be, or one sentence says which and how."""
    shapes = (("name", str, "a text"), ("description", str, "a text"), ("columns", dict, "a table of canonical column = header"),
              ("format", dict, "a table"), ("values", dict, "a table of tables ([values.status] and so on)"),
              ("extract", dict, "a table of column = regular expression"), ("rules", list, "a list of tables ([[rules]])"))
    for key, kind, words in shapes:
        if key in data and not isinstance(data[key], kind):
            raise InputError(f"{origin}: {key} must be {words}, not {data[key]!r}"[:300])
    for column, mapping in data.get("values", {}).items():
        if not isinstance(mapping, dict):
            raise InputError(f"{origin}: [values.{column}] must be a table of your value = canonical value")
    for column, pattern in data.get("extract", {}).items():
        if not isinstance(pattern, str):
            raise InputError(f"{origin}: [extract] {column} must be a regular expression in quotes")
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise InputError(f"{origin}: [extract] {column} is not a regular expression ({exc})") from None
        if groups < 1:
            raise InputError(f"{origin}: [extract] {column} needs a group, (...), around the value to take")
    for rule in data.get("rules", []):
        if not isinstance(rule, dict):
            raise InputError(f"{origin}: each [[rules]] entry must be a table (column, keep or drop, reason)")
        for key in ("keep", "drop"):
            if key in rule and not (isinstance(rule[key], list) and all(isinstance(v, str) for v in rule[key])):
                raise InputError(f"{origin}: [[rules]] {key} must be a list of values in quotes")


def _check_format(fmt: dict, origin: str) -> None:
    """[format]: each setting of its kind, and a decimal mark that is not the thousands mark."""
    for key, value in fmt.items():
        default = FORMAT_DEFAULTS[key]
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, type(default)):
            kind = "true or false" if isinstance(default, bool) else "a list of texts" if isinstance(default, list) else "a text"
            raise InputError(f"{origin}: [format] {key} must be {kind}, not {value!r}"[:300])
    decimal, thousands = fmt.get("decimal", "."), fmt.get("thousands", "")
    if len(decimal) != 1:
        raise InputError(f"{origin}: [format] decimal must be one character, such as \".\" or \",\"")
    if decimal == thousands:
        raise InputError(f"{origin}: [format] decimal and thousands are both {decimal!r}: an amount could not be read; "
                         "set the thousands mark to another character, or to \"\"")
    if len(thousands) > 1:
        raise InputError(f"{origin}: [format] thousands must be one character, or \"\" for none")


def builtin_names() -> list[str]:
    """Names of the profiles shipped with dunning."""
    folder = resources.files("dunning.sources") / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a profile TOML file by path."""
    text_source = str(name_or_path)
    if text_source in builtin_names():
        text = (resources.files("dunning.sources") / "profiles" / f"{text_source}.toml").read_text("utf-8")
        origin = f"built-in profile {text_source}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InputError(
                f"profile {text_source!r} is neither a built-in profile ({', '.join(builtin_names())}) "
                "nor a file"
            )
        text = path.read_text("utf-8")
        origin = f"profile file {path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin} is not valid TOML: {exc}") from None
    return parse(data, origin=origin, default_name=Path(text_source).stem)


def parse(data: dict, *, origin: str, default_name: str) -> Profile:
    """Check a profile's TOML tables and build the Profile; errors name the origin and the key."""
    unknown_tables = set(data) - {"name", "description", "columns", "format", "values", "extract", "rules"}
    if unknown_tables:
        raise InputError(f"{origin}: unknown key(s) {', '.join(sorted(unknown_tables))}")
    _check_shapes(data, origin)
    columns: dict[str, tuple[str, ...]] = {}
    for canonical, source in data.get("columns", {}).items():
        if canonical not in CANONICAL_COLUMNS:
            raise InputError(
                f"{origin}: [columns] names {canonical!r}, which is not a canonical column "
                f"(one of {', '.join(sorted(CANONICAL_COLUMNS))})"
            )
        names = (source,) if isinstance(source, str) else tuple(source)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise InputError(f"{origin}: [columns] {canonical} must be a header or a list of headers")
        columns[canonical] = names
    fmt = dict(data.get("format", {}))
    unknown_fmt = set(fmt) - set(FORMAT_DEFAULTS)
    if unknown_fmt:
        raise InputError(f"{origin}: [format] has unknown key(s) {', '.join(sorted(unknown_fmt))}")
    _check_format(fmt, origin)
    values = {k: {str(a): str(b) for a, b in v.items()} for k, v in data.get("values", {}).items()}
    for key in values:
        if key not in VALUE_MAPPED:
            raise InputError(f"{origin}: [values.{key}] is not a mapped column ({', '.join(VALUE_MAPPED)})")
    bad_status = {v for v in values.get("status", {}).values() if v not in STATUSES}
    if bad_status:
        raise InputError(
            f"{origin}: [values.status] maps to {', '.join(sorted(bad_status))}; "
            f"statuses are {', '.join(sorted(STATUSES))}"
        )
    for rule in data.get("rules", []):
        unknown = set(rule) - {"column", "reason", "keep", "drop"}
        if unknown or "column" not in rule:
            raise InputError(f"{origin}: a [[rules]] entry needs column and may have keep, drop, reason"
                             + (f"; unknown key(s) {', '.join(sorted(unknown))}" if unknown else ""))
    rules = tuple(
        RowRule(
            column=r["column"], reason=r.get("reason", "excluded by the profile"),
            keep=tuple(r.get("keep", ())), drop=tuple(r.get("drop", ())),
        )
        for r in data.get("rules", [])
    )
    return Profile(
        name=data.get("name", default_name),
        description=data.get("description", ""),
        columns=columns,
        format=fmt,
        values=values,
        extract=dict(data.get("extract", {})),
        rules=rules,
    )
