"""dunning: find overdue subscription and installment payments and remind the customers.

The public face: everything a notebook or a script needs, each the twin of a command.

    settings = dunning.load_settings()                    # dunning.toml: policy, store, signer, templates
    found = dunning.find_overdue(settings, store, "orders.csv", as_of=date(2026, 11, 20))   # `dunning overdue`
    dunning.export(settings, store, found, "mailchimp")   # `dunning export`
"""
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dunning")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

# Each public name is imported on first use (PEP 562): a command loads only what it needs.
_PUBLIC = {
    "read_orders": ("dunning.api", "read_orders"), "read_payments": ("dunning.api", "read_payments"),
    "Campaign": ("dunning.campaigns", "Campaign"), "load_campaign": ("dunning.campaigns", "load"),
    "prepare": ("dunning.campaigns", "prepare"), "Settings": ("dunning.config", "Settings"),
    "load_settings": ("dunning.config", "load"), "export": ("dunning.handover", "export"),
    "Filters": ("dunning.exclusions", "Filters"), "find": ("dunning.overdue", "find"),
    "find_overdue": ("dunning.pipeline", "find_overdue"), "record": ("dunning.pipeline", "record"),
    "Hold": ("dunning.policy", "Hold"), "Policy": ("dunning.policy", "Policy"), "Stage": ("dunning.policy", "Stage"),
    "report_tables": ("dunning.report", "build"), "gather_report": ("dunning.report", "gather"),
    "html_report": ("dunning.report_html", "render"), "send": ("dunning.sending", "send"), "Store": ("dunning.journal.store", "Store"),
    "TokenSigner": ("dunning.tokens", "TokenSigner"), "add_links": ("dunning.tokens", "add_links"),
    "credited": ("dunning.tracking", "credited"), "figures": ("dunning.tracking", "figures"),
    "import_export": ("dunning.tracking", "import_export"), "import_payments": ("dunning.tracking", "import_payments"),
    "recovery": ("dunning.tracking", "recovery"),
    **{name: ("dunning.errors", name) for name in (
        "InputError", "MissingKeys", "PermanentFailure", "TemporaryFailure", "TokenError", "TokenExpired", "TokenForeign",
        "TokenTampered")},
}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'dunning' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


__all__ = [
    "Campaign", "Filters", "Hold", "InputError", "MissingKeys", "PermanentFailure", "Policy", "Settings", "Stage",
    "Store", "TemporaryFailure", "TokenError", "TokenExpired", "TokenForeign", "TokenSigner", "TokenTampered",
    "__version__", "add_links", "credited", "export", "figures", "find", "find_overdue", "gather_report", "html_report",
    "import_export", "import_payments", "load_campaign", "load_settings", "prepare", "read_orders",
    "read_payments", "record", "recovery", "report_tables", "send",
]
