"""What the law of a market adds to an overdue amount: default interest, a lump sum, collection costs, and the letter
that must come before costs. A merchant selects one preset (`[policy] law = "de-consumer"`); each names its statutes."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DUE, REMINDER = "due", "reminder"  # interest runs from the day after the due date, or after the first reminder


@dataclass(frozen=True)
class Law:
    """One market's statutory charges. Interest is `points` over a published rate table (or a fixed rate), per day on
    the principal in default, actual days over 365; `lump_sum` (minor units of `currency`) is charged once per order;
    `scale` charges the Dutch statutory collection costs, only after the fourteen-day letter's term has passed."""

    name: str
    title: str
    sources: tuple[str, ...]
    currency: str
    rate_table: str = ""
    points: Decimal = Decimal(0)
    interest_from: str = DUE
    lump_sum: int = 0
    scale: bool = False
    fourteen_day_letter: bool = False

    @property
    def charges_interest(self) -> bool:
        return bool(self.rate_table) or self.points > 0

    def rate_text(self) -> str:
        """The interest rate in words ("base rate de_base + 5 points", "5 % a year")."""
        if not self.charges_interest:
            return "no default interest"
        if not self.rate_table:
            return f"{self.points} % a year"
        return f"{self.rate_table} + {self.points} points" if self.points else self.rate_table


PRESETS: dict[str, Law] = {law.name: law for law in (
    Law("de-consumer", "Germany, the customer is a consumer",
        ("§ 288 Abs. 1 BGB: default interest, base rate + 5 percentage points a year",
         "§ 247 BGB: the base rate, set on 1 January and 1 July (Deutsche Bundesbank)",
         "§ 286 Abs. 2 Nr. 1 BGB: a due date fixed by the calendar puts the debtor in default without a reminder"),
        "EUR", rate_table="de_base", points=Decimal(5)),
    Law("de-business", "Germany, both parties are businesses",
        ("§ 288 Abs. 2 BGB: default interest, base rate + 9 percentage points a year",
         "§ 288 Abs. 5 BGB: a lump sum of 40 EUR",
         "§ 247 BGB: the base rate, set on 1 January and 1 July (Deutsche Bundesbank)"),
        "EUR", rate_table="de_base", points=Decimal(9), lump_sum=4000),
    Law("nl-consumer", "Netherlands, the customer is a consumer",
        ("art. 6:96 lid 6 BW: collection costs only after a letter giving 14 days to pay, starting the day after receipt",
         "Besluit vergoeding voor buitengerechtelijke incassokosten, art. 2: 15 % of the first 2,500 EUR (at least 40 EUR), "
         "10 % of the next 2,500, 5 % of the next 5,000, 1 % of the next 190,000, 0.5 % above, at most 6,775 EUR"),
        "EUR", scale=True, fourteen_day_letter=True),
    Law("fr-consumer", "France, the customer is a consumer",
        ("art. 1231-6 Code civil: interest at the legal rate from the formal notice (the first reminder)",
         "art. L313-2 Code monétaire et financier: the legal rate, set each half-year (the rate for all other cases, "
         "the creditor being a business)"),
        "EUR", rate_table="fr_legal", interest_from=REMINDER),
    Law("fr-business", "France, both parties are businesses",
        ("art. L441-10 Code de commerce: late payment penalties from the day after the due date, at the ECB's main "
         "refinancing rate + 10 points where the terms set no other rate",
         "art. D441-5 Code de commerce: a recovery indemnity of 40 EUR"),
        "EUR", rate_table="ecb_mro", points=Decimal(10), lump_sum=4000),
    Law("ch", "Switzerland",
        ("Art. 104 Abs. 1 OR: default interest of 5 % a year",
         "Art. 102 Abs. 2 OR: a due date agreed in advance puts the debtor in default without a reminder"),
        "CHF", points=Decimal(5)),
)}


def named(name: str) -> Law:
    """The preset of that name; ValueError naming the ones there are."""
    if name not in PRESETS:
        raise ValueError(f"law must be one of {', '.join(PRESETS)}, not {name!r}")
    return PRESETS[name]
