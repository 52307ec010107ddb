"""dunning: find overdue subscription and installment payments and remind the customers.

The public face: everything a notebook or a script needs, each the twin of a command.

    settings = dunning.load_settings()                    # dunning.toml: policy, store, signer, templates
    found = dunning.find_overdue(settings, store, "orders.csv", as_of=date(2026, 11, 20))   # `dunning overdue`
    dunning.export(settings, store, found, "mailchimp")   # `dunning export`
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dunning")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

from dunning.api import read_orders, read_payments  # noqa: E402
from dunning.campaigns import Campaign, load as load_campaign, prepare  # noqa: E402
from dunning.config import Settings, load as load_settings  # noqa: E402
from dunning.errors import (  # noqa: E402
    InputError, MissingKeys, PermanentFailure, TemporaryFailure, TokenError, TokenExpired, TokenForeign, TokenTampered,
)
from dunning.handover import export  # noqa: E402
from dunning.overdue import Filters, find  # noqa: E402
from dunning.pipeline import find_overdue, record  # noqa: E402
from dunning.policy import Hold, Policy, Stage  # noqa: E402
from dunning.report import build as report_tables, gather as gather_report  # noqa: E402
from dunning.report_html import render as html_report  # noqa: E402
from dunning.sending import send  # noqa: E402
from dunning.store import Store  # noqa: E402
from dunning.tokens import TokenSigner, add_links  # noqa: E402
from dunning.tracking import credited, figures, import_export, import_payments, recovery  # noqa: E402

__all__ = [
    "Campaign", "Filters", "Hold", "InputError", "MissingKeys", "PermanentFailure", "Policy", "Settings", "Stage",
    "Store", "TemporaryFailure", "TokenError", "TokenExpired", "TokenForeign", "TokenSigner", "TokenTampered",
    "__version__", "add_links", "credited", "export", "figures", "find", "find_overdue", "gather_report", "html_report",
    "import_export", "import_payments", "load_campaign", "load_settings", "prepare", "read_orders",
    "read_payments", "record", "recovery", "report_tables", "send",
]
