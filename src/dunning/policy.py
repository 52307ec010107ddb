"""The dunning policy: grace days, stages with optional fees, minimum amounts, cooldown, holds, the law it follows."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dunning.errors import InputError
from dunning.law import presets
from dunning.money import known_currencies, parse_major

CONSEQUENCES = ("", "cancellation", "collection")
CONFIRMATION = "confirmation"  # the message after a payment: a campaign's stage, never a policy stage
CANCELLATION = "cancellation"  # the notice of an order the merchant cancelled: a campaign's stage, never a policy stage
NOTICES = (CONFIRMATION, CANCELLATION)
LETTER = "letter"  # the template of a letter for several orders of one customer: never a stage


@dataclass(frozen=True)
class Stage:
    """A reminder stage reached after `days` overdue; `fees` in minor units per currency. A stage with negative
    days is a notice before the due date (-7: a week before an installment falls due)."""

    name: str
    label: str
    days: int
    fees: dict[str, int] = field(default_factory=dict)
    consequence: str = ""
    pay_within_days: int = 0  # a deadline this many days after the reminder ("please pay by ..."); 0: none
    fourteen_day_letter: bool = False  # the Dutch letter that must come before collection costs (law nl-consumer)


@dataclass(frozen=True)
class Hold:
    """Do not dun this order or customer (by e-mail) until `until` (inclusive), or for good."""

    reason: str
    order_id: str = ""
    email: str = ""
    until: date | None = None

    def active(self, as_of: date) -> bool:
        return self.until is None or as_of <= self.until


ACTIONS = ("review", "cancel", "collection")


@dataclass(frozen=True)
class AfterFinal:
    """What the merchant is asked to decide `days` after the final notice, while the order is still open."""

    action: str = "review"
    days: int = 14


@dataclass(frozen=True)
class Policy:
    """How overdue amounts become reminders."""

    grace_days: int = 0
    cooldown_days: int = 7
    stages: tuple[Stage, ...] = ()
    minimum_amount: dict[str, int] = field(default_factory=dict)
    holds: tuple[Hold, ...] = ()
    skip_stages: bool = False
    after_final: AfterFinal = AfterFinal()
    law: str = ""  # a preset of dunning.law.presets: the statutory interest and costs reminders ask ("" none)
    one_letter_per_customer: bool = True  # a customer's orders due for the same stage go out as one letter

    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage_named(self, name: str) -> Stage:
        """The stage of that name; `confirmation` and `cancellation` are the notices' own (no days, no fee)."""
        if name == CONFIRMATION:
            return Stage(CONFIRMATION, "Payment received", 0)
        if name == CANCELLATION:
            return Stage(CANCELLATION, "Order cancelled", 0)
        return next(s for s in self.stages if s.name == name)

    @property
    def dunning_stages(self) -> tuple[Stage, ...]:
        """The stages after the due date (friendly, second, final), in order."""
        return tuple(s for s in self.stages if s.days >= 0)

    @property
    def notice_stages(self) -> tuple[Stage, ...]:
        """The notices before a due date, the earliest first."""
        return tuple(s for s in self.stages if s.days < 0)


def from_settings(section: dict, origin: str = "dunning.toml") -> Policy:
    """Build the policy from the [policy] table; errors name the setting."""
    try:
        stages = tuple(sorted((_stage(s) for s in section.get("stages", [])), key=lambda s: s.days))
        minimum = {c.upper(): parse_major(v, c.upper()) for c, v in section.get("minimum_amount", {}).items()}
        holds = tuple(_hold(h) for h in section.get("holds", []))
        policy = Policy(
            grace_days=_non_negative(section.get("grace_days", 0), "grace_days"),
            cooldown_days=_non_negative(section.get("cooldown_days", 7), "cooldown_days"),
            stages=stages, minimum_amount=minimum, holds=holds, skip_stages=_flag(section.get("skip_stages", False), "skip_stages"),
            after_final=_after_final(section.get("after_final", {})), law=str(section.get("law", "")),
            one_letter_per_customer=_flag(section.get("one_letter_per_customer", True), "one_letter_per_customer"),
        )
        _check_law(policy)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{origin}: [policy] {exc}") from None
    names = policy.stage_names()
    reserved = sorted((set(NOTICES) | {LETTER}) & set(names))
    if reserved:
        what = "a letter for several orders" if reserved[0] == LETTER else f"the {reserved[0]} notice"
        raise InputError(f"{origin}: [policy] {reserved[0]!r} names {what}; give the stage another name")
    for notice in policy.notice_stages:
        if notice.fees or notice.consequence:
            raise InputError(f"{origin}: [policy] stage {notice.name} comes before the due date: it can have no fee or consequence")
    if len(set(names)) != len(names):
        raise InputError(f"{origin}: [policy] stage names must differ, got {', '.join(names)}")
    unknown = set(policy.minimum_amount) - known_currencies()
    if unknown:
        raise InputError(f"{origin}: [policy.minimum_amount] unknown currency {', '.join(sorted(unknown))}")
    return policy


def _check_law(policy: Policy) -> None:
    """The law is a known preset, and the fourteen-day letter is one dunning stage where (and only where) it asks one."""
    letters = [s for s in policy.stages if s.fourteen_day_letter]
    if not policy.law:
        if letters:
            raise ValueError(f"stage {letters[0].name}: fourteen_day_letter needs law = \"nl-consumer\"")
        return
    law = presets.named(policy.law)
    if law.fourteen_day_letter and len(letters) != 1:
        raise ValueError(f"law {law.name} needs exactly one stage with fourteen_day_letter = true (the letter that must come "
                         f"before collection costs), found {len(letters)}")
    charging = [s for s in policy.stages if s.fees]
    if law.scale and charging:
        raise ValueError(f"stage {charging[0].name}: law {law.name} allows no reminder fee; the statutory collection costs "
                         f"are all a consumer may be charged (art. 6:96 lid 5 BW)")
    if letters and not law.fourteen_day_letter:
        raise ValueError(f"stage {letters[0].name}: fourteen_day_letter is for law = \"nl-consumer\", not {law.name}")
    if letters and letters[0].days < 0:
        raise ValueError(f"stage {letters[0].name}: the fourteen-day letter comes after the due date (days 0 or more)")


def _stage(data: dict) -> Stage:
    name = str(data["name"])
    consequence = str(data.get("consequence", ""))
    if consequence not in CONSEQUENCES:
        raise ValueError(f"stage {name}: consequence must be one of {', '.join(repr(c) for c in CONSEQUENCES)}")
    fees = {c.upper(): parse_major(v, c.upper()) for c, v in data.get("fee", {}).items()}
    return Stage(
        name=name, label=str(data.get("label", name)), days=_whole(data["days"], f"stage {name} days"),
        fees=fees, consequence=consequence,
        pay_within_days=_non_negative(data.get("pay_within_days", 0), f"stage {name} pay_within_days"),
        fourteen_day_letter=_flag(data.get("fourteen_day_letter", False), f"stage {name} fourteen_day_letter"),
    )


def _after_final(data: dict) -> AfterFinal:
    action = str(data.get("action", "review"))
    if action not in ACTIONS:
        raise ValueError(f"after_final action must be one of {', '.join(ACTIONS)}, not {action!r}")
    return AfterFinal(action, _non_negative(data.get("days", 14), "after_final days"))


def _hold(data: dict) -> Hold:
    if not data.get("order_id") and not data.get("email"):
        raise ValueError("a hold needs order_id or email")
    until = data.get("until")
    if until is not None and not isinstance(until, date):
        until = date.fromisoformat(str(until))
    return Hold(
        reason=str(data.get("reason", "on hold")), order_id=str(data.get("order_id", "")),
        email=str(data.get("email", "")).lower(), until=until,
    )


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false (got {value!r})")
    return value


def _whole(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number of days (negative: before the due date), got {value!r}")
    return value


def _non_negative(value: object, name: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of days, 0 or more (got {value!r})")
    return value
