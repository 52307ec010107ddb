"""Vectorised parsing of export text: dates, e-mail addresses, intervals, whole numbers."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
import pyarrow as pa
import pyarrow.compute as pc

from dunning.arrowtext import arrow_strings

# A first, vectorised check (no two dots in a row, none at either end of a part); the addresses that go to a
# newsletter tool are checked again, to the letter of the RFCs, by email-validator (`email_reasons`).
EMAIL_PATTERN = r"^[^@\s,;<>.]+(\.[^@\s,;<>.]+)*@[^@\s,;<>.]+(\.[^@\s,;<>.]+)+$"
# Plain ASCII addresses that email-validator accepts for sure (checked in one pass; the others one by one)
PLAIN_ADDRESS = r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
_OFFSET_PATTERN = r"\s*(?:[+-]\d{2}:?\d{2}|Z|UTC)$"

_INTERVAL_RE = re.compile(r"^\s*(\d+)?\s*([a-zA-Z]+)\s*$")
_UNIT_MONTHS_DAYS = {
    "day": (0, 1), "days": (0, 1), "daily": (0, 1),
    "week": (0, 7), "weeks": (0, 7), "weekly": (0, 7),
    "fortnight": (0, 14), "fortnights": (0, 14), "fortnightly": (0, 14),
    "month": (1, 0), "months": (1, 0), "monthly": (1, 0),
    "quarter": (3, 0), "quarters": (3, 0), "quarterly": (3, 0),
    "year": (12, 0), "years": (12, 0), "yearly": (12, 0), "annual": (12, 0), "annually": (12, 0),
}


TYPED_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
EARLIEST, LATEST = pd.Timestamp("1990-01-01"), pd.Timestamp("2100-12-31")  # no order of this tool's is dated outside
MAX_INSTALLMENTS = 600  # fifty years of months
MAX_INTERVAL_MONTHS, MAX_INTERVAL_DAYS = 120, 3660  # ten years
_TYPED_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


def parse_dates(text: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series]:
    """Dates (datetime64 at midnight) and a reason per row ("" where fine or empty).

    A time of day and a UTC offset are dropped: the date is the one the shop wrote. A cell that a
    spreadsheet or Parquet file typed as a date (read as TYPED_DATE_FORMAT) is a date in any profile.
    """
    fmt = date_format
    values = text
    if "%z" in fmt or "%Z" in fmt:
        fmt = re.sub(r"\s*%[zZ]", "", fmt)
        values = text.str.replace(_OFFSET_PATTERN, "", regex=True)
    parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    typed = parsed.isna() & text.str.fullmatch(_TYPED_PATTERN).fillna(False).astype(bool)
    if typed.any():
        parsed[typed] = pd.to_datetime(text[typed], format=TYPED_DATE_FORMAT)
    reason = pd.Series("", index=text.index, dtype="string")
    reason[(text != "") & parsed.isna()] = f"not a date in the format {date_format}"
    outside = parsed.notna() & ((parsed < EARLIEST) | (parsed > LATEST + pd.Timedelta(days=1)))
    reason[outside] = f"outside the years {EARLIEST.year} to {LATEST.year}: no date of an order"
    parsed[outside] = pd.NaT
    return parsed.dt.normalize(), reason


def email_reasons(email: pd.Series) -> pd.Series:
    """Why each address is not one a mail system accepts ("" where it is), by email-validator's syntax rules
    (no network, no deliverability check); each distinct address is checked once. Plain ASCII addresses that
    email-validator is sure to accept (`PLAIN_ADDRESS`: no quoting, no IDNA, no special-use domain) are told
    apart in one Arrow pass; only the others go through email-validator, one by one."""
    unique = pd.Series(email.dropna().unique(), dtype=object)
    plain = _plainly_valid(unique)
    reasons = dict.fromkeys(unique[plain], "")
    for address in unique[~plain]:
        try:
            validate_email(address, check_deliverability=False)
            reasons[address] = ""
        except EmailNotValidError as exc:
            reasons[address] = str(exc)
    return email.map(reasons).fillna("not an e-mail address").astype("string")


def _plainly_valid(addresses: pd.Series) -> np.ndarray:
    """Addresses email-validator accepts for sure: PLAIN_ADDRESS, within its lengths, not at a special-use domain,
    and without "--" (an IDNA rule email-validator applies to domain labels)."""
    if addresses.empty:
        return np.zeros(0, dtype=bool)
    text = addresses.astype(str)
    fits = pc.match_substring_regex(arrow_strings(text), PLAIN_ADDRESS).to_numpy(zero_copy_only=False)
    local = text.str.partition("@")[0].str.len().to_numpy()
    tld = text.str.rpartition(".")[2].str.lower()
    return (fits & (text.str.len().to_numpy() <= 254) & (local <= 64) & ~tld.isin(SPECIAL_USE_DOMAIN_NAMES).to_numpy()
            & ~text.str.contains("--", regex=False).to_numpy())


def email_problems(email: pd.Series) -> pd.Series:
    """True where a non-empty e-mail address is malformed."""
    well_formed = pc.match_substring_regex(arrow_strings(email), EMAIL_PATTERN).to_numpy(zero_copy_only=False)
    return (email != "") & ~well_formed



def parse_interval(text: str) -> tuple[int, int] | None:
    """'1 month' -> (1, 0), '2 weeks' -> (0, 14), 'fortnightly' -> (0, 14); None if not an interval."""
    match = _INTERVAL_RE.match(text)
    if not match:
        return None
    count = int(match.group(1) or 1)
    unit = _UNIT_MONTHS_DAYS.get(match.group(2).lower())
    if unit is None or count <= 0 or unit[0] * count > MAX_INTERVAL_MONTHS or unit[1] * count > MAX_INTERVAL_DAYS:
        return None
    return unit[0] * count, unit[1] * count


def parse_intervals(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Months and days per row (Int64) and a reason where the text is not an interval."""
    parsed = {value: parse_interval(value) for value in text.unique()}
    months = text.map({v: p[0] for v, p in parsed.items() if p}).astype("Int64")
    days = text.map({v: p[1] for v, p in parsed.items() if p}).astype("Int64")
    reason = pd.Series("", index=text.index, dtype="string")
    reason[(text != "") & months.isna()] = ("not an interval of up to ten years (write e.g. '1 month', '3 months', '2 weeks', "
                                            "'1 year')")
    return months, days, reason


def parse_counts(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole non-negative numbers (Int64; <NA> where empty) and a reason where the text is not one."""
    values = arrow_strings(text)
    matches = pc.match_substring_regex(values, r"^[0-9]{1,9}$")
    ok = matches.to_numpy(zero_copy_only=False)
    numbers = pc.if_else(matches, pc.cast(pc.if_else(matches, values, "0"), pa.int64()), None)
    counts = pd.Series(numbers.to_numpy(zero_copy_only=False), index=text.index).astype("Int64")
    reason = pd.Series("", index=text.index, dtype="string")
    reason[(text != "") & ~ok] = "not a whole number"
    return counts, reason
