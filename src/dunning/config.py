"""Settings from dunning.toml over the shipped defaults; `init` writes a commented workspace."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path

from dunning.errors import InputError
from dunning.law import presets, rates
from dunning.law.asked import Statute
from dunning.mailmerge import Templates
from dunning.policy import Policy, from_settings
from dunning.journal.store import Store, url_for
from dunning.tokens import TokenSigner, keys_from_env, require_keys

FILE_NAME = "dunning.toml"
WORKSPACE_FOLDERS = ("exports", "campaigns", "templates")
# Every setting dunning.toml may hold, per table, with what it must be: one schema, checked when the file is read.
TEXT, FLAG, DAYS, WHOLE, NUMBER, DATE, TABLE, TABLES, AMOUNTS, TEXTS, LINES = (
    "text", "true or false", "a whole number of days, 0 or more", "a whole number", "a number", "a date",
    "a table", "a list of tables", "a table of currency = amount (e.g. EUR = \"2.50\")", "a table of texts",
    "a list of lines (e.g. [\"Example Shop GmbH\", \"Musterstraße 1\", \"10115 Berlin\"])")
ADDRESS = {"street": TEXT, "house_number": TEXT, "postal_code": TEXT, "city": TEXT}
SCHEMA: dict[str, dict[str, str]] = {
    "": {"shop": TABLE, "input": TABLE, "links": TABLE, "paths": TABLE, "policy": TABLE, "exports": TABLE, "store": TABLE,
         "ledger": TABLE, "payment": TABLE, "web": TABLE},
    "shop": {"name": TEXT, "contact": TEXT, "fallback_language": TEXT, "address": TEXT, "cancel_url": TEXT,
             "postal_address": LINES, "country": TEXT},
    "input": {"profile": TEXT, "payments_profile": TEXT},
    "links": {"manage_url": TEXT, "token_max_age_days": DAYS},
    "paths": {"exports": TEXT},
    "policy": {"grace_days": DAYS, "cooldown_days": DAYS, "skip_stages": FLAG, "minimum_amount": AMOUNTS, "stages": TABLES,
               "holds": TABLES, "after_final": TABLE, "law": TEXT, "one_letter_per_customer": FLAG},
    "policy.after_final": {"action": TEXT, "days": DAYS},
    "policy.stages": {"name": TEXT, "label": TEXT, "days": WHOLE, "fee": AMOUNTS, "consequence": TEXT, "pay_within_days": DAYS,
                       "fourteen_day_letter": FLAG},
    "policy.holds": {"order_id": TEXT, "email": TEXT, "reason": TEXT, "until": DATE},
    "exports": {"klicktipp_field_ids": TEXTS, "brevo_attributes": TEXTS},
    "store": {"url": TEXT},
    "ledger": {"match_window_days": DAYS},
    "payment": {"link": TEXT, "beneficiary": TEXT, "iban": TEXT, "bic": TEXT, "currency": TEXT, "accounts": TABLE,
                "change_method_requests": FLAG, **ADDRESS},
    "payment.accounts.*": {"iban": TEXT, "bic": TEXT, "beneficiary": TEXT, **ADDRESS},
    "web": {"trusted_proxies": WHOLE, "visit_flush_seconds": NUMBER},
}


def default_text(name: str = FILE_NAME) -> str:
    """A commented default file shipped with the package (dunning.toml, campaign.toml)."""
    return (resources.files("dunning") / "defaults" / name).read_text("utf-8")


@dataclass(frozen=True)
class Settings:
    """All settings, with the folder they are relative to; hands out the ready objects every command uses."""

    data: dict
    root: Path
    source: Path | None

    def section(self, name: str) -> dict:
        return self.data.get(name, {})

    @cached_property
    def policy(self) -> Policy:
        """The policy, parsed once."""
        return from_settings(self.section("policy"), origin=str(self.source or "defaults"))

    @cached_property
    def statute(self) -> Statute | None:
        """The law the policy follows, with the shipped rates and the workspace's own (rates.csv); None where none."""
        if not self.policy.law:
            return None
        letter = next((s.name for s in self.policy.stages if s.fourteen_day_letter), "")
        return Statute(presets.named(self.policy.law), rates.load(self.rates_file), letter)

    @property
    def rates_file(self) -> Path:
        """The workspace's own interest rates (`dunning rates add`), beside dunning.toml."""
        return self.root / rates.FILE_NAME

    def store(self) -> Store:
        """The ledger: DUNNING_DATABASE_URL, else [store] url, else dunning.sqlite3 in the workspace."""
        return Store(url_for(self.root, self.section("store").get("url")))

    def ledger_elsewhere(self, cwd: Path) -> str:
        """A sentence naming the ledger when a settings file from another folder puts it beside itself, not in `cwd`
        ("" otherwise): the ledger never moves with --config unsaid."""
        url = url_for(self.root, self.section("store").get("url"))
        default = url_for(cwd.resolve())
        if self.source is None or self.root == cwd.resolve() or url != url_for(self.root) or url == default:
            return ""
        return (f"ledger: {self.root / 'dunning.sqlite3'} (beside {self.source}; set [store] url there to use "
                f"{cwd.resolve() / 'dunning.sqlite3'})")

    def signer(self, keys: list[str] | None = None) -> TokenSigner:
        """The manage-link signer over `keys` (default: DUNNING_SECRET_KEYS); refuses without a key."""
        keys = keys_from_env() if keys is None else keys
        require_keys(keys)
        return TokenSigner(keys, max_age=timedelta(days=int(self.section("links").get("token_max_age_days", 45))))

    @property
    def match_window_days(self) -> int:
        """[ledger] match_window_days: how far apart two sightings of one payment (a webhook, a statement line) may be."""
        days = self.section("ledger").get("match_window_days", 7)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 60:
            raise InputError(f"{self.source or 'dunning.toml'}: [ledger] match_window_days must be a whole number of days from 0 to 60")
        return days

    @property
    def link_template(self) -> str:
        """links.manage_url, with {token} where the token goes."""
        return str(self.section("links").get("manage_url"))

    def templates(self) -> Templates:
        """The reminder templates: the workspace's templates/ first, then the shipped ones."""
        return Templates(self.root / "templates", self.fallback_language)

    @property
    def shop(self) -> dict:
        """[shop]: name, contact, fallback_language."""
        return self.section("shop")

    @property
    def exports_dir(self) -> Path:
        return self.root / self.section("paths").get("exports", "exports")

    @property
    def fallback_language(self) -> str:
        return str(self.section("shop").get("fallback_language", "en"))

    @property
    def stage_labels(self) -> dict[str, str]:
        """Each stage's name as the merchant labels it ("Friendly reminder"), for reports."""
        return {s.name: s.label for s in self.policy.stages}


def load(path: Path | None = None, cwd: Path | None = None) -> Settings:
    """`path` if given, else ./dunning.toml if present, else the defaults alone."""
    defaults = tomllib.loads(default_text())
    if path is None:
        candidate = (cwd or Path.cwd()) / FILE_NAME
        path = candidate if candidate.is_file() else None
    elif not path.is_file():
        raise InputError(f"{path}: no such settings file")
    if path is None:
        return Settings(defaults, cwd or Path.cwd(), None)
    try:
        user = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    _check_keys(user, "", path)
    return Settings(_merge(defaults, user), path.parent.resolve(), path)


def _check_keys(table: dict, where: str, path: Path) -> None:
    """Every key known, every value of the kind it must be: a typo, a wrong type or a wrong shape is one sentence that
    names the key and what it should be (never changed silently, never an internal error later)."""
    allowed = SCHEMA.get(where) or SCHEMA.get(where.rpartition(".")[0] + ".*", {})
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        place = f"[{where}]" if where else "the top level"
        raise InputError(f"{path}: unknown setting {', '.join(unknown)} in {place}; the settings there are "
                         f"{', '.join(sorted(allowed))}")
    for key, value in table.items():
        inner = f"{where}.{key}" if where else key
        kind = allowed[key]
        if not _fits(value, kind):
            raise InputError(f"{path}: [{where or key}] {key} must be {kind}, not {value!r}"[:300])
        if kind == TABLE and inner == "payment.accounts":
            for currency, account in value.items():
                if not isinstance(account, dict):
                    raise InputError(f"{path}: [payment.accounts.{currency}] must be a table (iban, bic, beneficiary, ...)")
                _check_keys(account, f"payment.accounts.{currency}", path)
        elif kind == TABLE:
            _check_keys(value, inner, path)
        elif kind == TABLES:
            for item in value:
                _check_keys(item, inner, path)


def _fits(value: object, kind: str) -> bool:
    """Whether a TOML value is of the kind a setting must be."""
    if kind == TEXT:
        return isinstance(value, str)
    if kind == FLAG:
        return isinstance(value, bool)
    if kind in (DAYS, WHOLE):
        return isinstance(value, int) and not isinstance(value, bool) and (kind == WHOLE or value >= 0)
    if kind == NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == DATE:
        return isinstance(value, date) or (isinstance(value, str) and _iso_date(value))
    if kind == TABLE:
        return isinstance(value, dict)
    if kind == TABLES:
        return isinstance(value, list) and all(isinstance(item, dict) for item in value)
    if kind == AMOUNTS:
        return isinstance(value, dict) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value.values())
    if kind == TEXTS:
        return isinstance(value, dict) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value.values())
    if kind == LINES:
        return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v.strip() and len(v) <= 100 for v in value)
    return False


def _iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _merge(base: dict, override: dict) -> dict:
    """Tables merge key by key; anything else (including lists such as stages) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


EXAMPLES = {"orders.csv": "orders.csv", "plans.csv": "plans.csv", "payments.csv": "payments.csv",
            "second-reminder.toml": "campaigns/second-reminder.toml"}


def init(folder: Path, examples: bool = False) -> list[Path]:
    """Write dunning.toml (if absent) and the workspace folders, and with `examples` example data to try it on (an
    export, plans, payments and a campaign); returns what was created (nothing is overwritten)."""
    created: list[Path] = []
    folder.mkdir(parents=True, exist_ok=True)
    settings_file = folder / FILE_NAME
    if not settings_file.exists():
        settings_file.write_text(default_text(), "utf-8")
        created.append(settings_file)
    for name in WORKSPACE_FOLDERS:
        sub = folder / name
        if not sub.exists():
            sub.mkdir()
            created.append(sub)
    example = folder / "campaigns" / "example.toml"
    if not example.exists():
        example.write_text(default_text("campaign.toml"), "utf-8")
        created.append(example)
    for shipped, target in EXAMPLES.items() if examples else ():
        path = folder / target
        if not path.exists():
            path.write_bytes((resources.files("dunning") / "defaults" / "examples" / shipped).read_bytes())
            created.append(path)
    return created
