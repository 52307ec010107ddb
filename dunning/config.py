"""Settings from dunning.toml over the shipped defaults; `init` writes a commented workspace."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path

from dunning.errors import InputError
from dunning.mailmerge import Templates
from dunning.policy import Policy, from_settings
from dunning.journal.store import Store, url_for
from dunning.tokens import TokenSigner, keys_from_env, require_keys

FILE_NAME = "dunning.toml"
WORKSPACE_FOLDERS = ("exports", "campaigns", "templates")
# Every setting dunning.toml may hold, per table; tables named with "*" hold free keys (currencies, field ids).
KNOWN = {
    "shop": {"name", "contact", "fallback_language", "address"},
    "input": {"profile", "payments_profile"},
    "links": {"manage_url", "token_max_age_days"},
    "paths": {"exports"},
    "policy": {"grace_days", "cooldown_days", "skip_stages", "minimum_amount", "stages", "holds", "after_final"},
    "policy.after_final": {"action", "days"},
    "policy.minimum_amount": "*",
    "policy.stages": {"name", "label", "days", "fee", "consequence", "pay_within_days"},
    "policy.stages.fee": "*",
    "policy.holds": {"order_id", "email", "reason", "until"},
    "exports": {"klicktipp_field_ids"},
    "exports.klicktipp_field_ids": "*",
    "store": {"url"},
    "ledger": {"match_window_days"},
    "payment": {"link", "beneficiary", "iban", "bic", "currency", "accounts", "change_method_requests"},
    "payment.accounts": "*",
    "web": {"trusted_proxies", "visit_flush_seconds"},
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

    def store(self) -> Store:
        """The ledger: DUNNING_DATABASE_URL, else [store] url, else dunning.sqlite3 in the workspace."""
        return Store(url_for(self.root, self.section("store").get("url")))

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
    """An unknown key is a mistake (a typo changes nothing silently): name it and the keys that exist."""
    allowed = KNOWN.get(where, set(KNOWN) - {k for k in KNOWN if "." in k}) if where else {k for k in KNOWN if "." not in k}
    if allowed == "*":
        return
    unknown = sorted(set(table) - allowed)
    if unknown:
        place = f"[{where}]" if where else "the top level"
        raise InputError(f"{path}: unknown setting {', '.join(unknown)} in {place}; the settings there are "
                         f"{', '.join(sorted(allowed))}")
    for key, value in table.items():
        inner = f"{where}.{key}" if where else key
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                _check_keys(item, inner, path)


def _merge(base: dict, override: dict) -> dict:
    """Tables merge key by key; anything else (including lists such as stages) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def init(folder: Path) -> list[Path]:
    """Write dunning.toml (if absent) and the workspace folders; returns what was created."""
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
    return created
