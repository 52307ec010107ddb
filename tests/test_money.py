from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from dunning.money import exponent, format_amount, from_decimal, parse_amounts, parse_major, to_major_string


def parse(values, currency="EUR", **fmt):
    minor, reason = parse_amounts(pd.Series(values, dtype="string"), pd.Series([currency] * len(values)), **fmt)
    return list(minor.astype("object").where(minor.notna(), None)), list(reason)


def test_currency_exponents_are_iso_4217_whatever_babel_says():
    assert [exponent(c) for c in ("EUR", "JPY", "KWD", "CLF", "HUF", "IDR", "COP", "RSD", "ISK")] == [2, 0, 3, 4, 2, 2, 2, 2, 0]
    assert format_amount(389277, "HUF", "hu") == "3\u00a0892,77\u00a0Ft"  # CLDR shows forints whole; no fillér is rounded away


def test_german_amounts_with_thousands_and_symbols():
    minor, reason = parse(["1.234,56", "12,5", "€ 9,99", "12,50 EUR", "-3"], decimal=",", thousands=".")
    assert minor == [123456, 1250, 999, 1250, -300]
    assert reason == [""] * 5


def test_bad_and_empty_amounts_give_reasons():
    minor, reason = parse(["abc", "", "0,001", "1.2.3"], decimal=",", thousands="")
    assert minor == [None, None, None, None]
    assert reason == ["not an amount", "", "more decimals than the currency has", "not an amount"]


def test_yen_has_no_minor_digits():
    minor, reason = parse(["12000", "12000.5"], currency="JPY")
    assert minor == [12000, None]
    assert reason[1] == "more decimals than the currency has"


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_minor_units_round_trip_through_text(minor):
    text = to_major_string(minor, "EUR")
    assert parse([text])[0] == [minor]
    assert from_decimal(Decimal(text), "EUR") == minor


def test_locale_formats():
    assert format_amount(14970, "EUR", "de") == "149,70\xa0€"
    assert format_amount(14970, "EUR", "nl") == "€\xa0149,70"
    assert format_amount(14970, "EUR", "fr") == "149,70\xa0€"
    assert format_amount(14970, "EUR", "en") == "€149.70"


def test_parse_major_refuses_extra_digits():
    assert parse_major("2.50", "EUR") == 250
    with pytest.raises(ValueError):
        parse_major("2.505", "EUR")
    with pytest.raises(ValueError):
        parse_major("two", "EUR")


def test_chunked_arrow_columns_parse_like_plain_ones():
    import pyarrow as pa

    chunked = pa.chunked_array([["1.00", "2,5"], ["3"]])
    text = pd.Series(pd.arrays.ArrowExtensionArray(chunked))
    minor, reason = parse_amounts(text, pd.Series(["EUR"] * 3))
    assert minor.iloc[0] == 100 and pd.isna(minor.iloc[1]) and minor.iloc[2] == 300
    assert list(reason) == ["", "not an amount", ""]


@given(st.lists(st.tuples(st.integers(min_value=-10**13, max_value=10**13), st.sampled_from(["EUR", "JPY", "KWD", "USD"])), max_size=30))
def test_vectorised_major_strings_match_decimal_formatting(pairs):
    from dunning.money import major_strings

    minor = pd.Series([m for m, _ in pairs], dtype="Int64")
    currency = pd.Series([c for _, c in pairs], dtype="string")
    assert list(major_strings(minor, currency)) == [to_major_string(m, c) for m, c in pairs]


@given(
    st.lists(st.integers(min_value=-10**11, max_value=10**11), min_size=1, max_size=20),
    st.sampled_from(["EUR", "JPY", "CHF", "USD", "GBP", "KWD"]),
    st.sampled_from(["de", "nl", "fr", "en", "de_CH", "en_IN", "fr_CH"]),
)
def test_batch_formatting_matches_babel(values, currency, locale):
    from dunning.money import format_amounts

    minor = pd.Series(values, dtype="Int64")
    got = format_amounts(minor, pd.Series([currency] * len(values)), pd.Series([locale] * len(values)))
    from dunning.money import _babel_amount

    assert list(got) == [_babel_amount(v, currency, locale) for v in values]
    assert [format_amount(v, currency, locale) for v in values] == list(got)
