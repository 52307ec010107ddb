from datetime import date

import pandas as pd
from hypothesis import given, settings, strategies as st

from dunning.schedule import due_date, expand


def plans(**overrides):
    row = dict(order_id="P-1", currency="EUR", start_date=pd.Timestamp("2026-01-31"), months=1, days=0,
               installments=6, installment_amount=1000, first_payment_discount=0,
               end_date=pd.NaT, next_payment_date=pd.NaT)
    row.update(overrides)
    frame = pd.DataFrame([row])
    return frame.astype({"months": "Int64", "days": "Int64", "installments": "Int64",
                         "installment_amount": "Int64", "first_payment_discount": "Int64"})


def dates(rec):
    return [d.date() for d in rec["due_date"]]


def test_month_ends_are_computed_from_the_start_never_chained():
    rec = expand(plans(), date(2030, 1, 1))
    assert dates(rec) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30),
                          date(2026, 5, 31), date(2026, 6, 30)]
    assert list(rec["seq"]) == [1, 2, 3, 4, 5, 6]


def test_open_ended_plans_stop_at_the_date_asked_and_at_end_date():
    rec = expand(plans(installments=pd.NA), date(2026, 4, 30))
    assert dates(rec)[-1] == date(2026, 4, 30) and len(rec) == 4
    rec = expand(plans(installments=pd.NA, end_date=pd.Timestamp("2026-03-30")), date(2027, 1, 1))
    assert len(rec) == 2
    rec = expand(plans(end_date=pd.Timestamp("2026-03-31")), date(2030, 1, 1))
    assert len(rec) == 3


def test_weeks_years_discount_and_settled_installments():
    rec = expand(plans(months=0, days=14, installments=3), date(2030, 1, 1))
    assert dates(rec) == [date(2026, 1, 31), date(2026, 2, 14), date(2026, 2, 28)]
    rec = expand(plans(start_date=pd.Timestamp("2024-02-29"), months=12, installments=3), date(2030, 1, 1))
    assert dates(rec) == [date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28)]
    rec = expand(plans(first_payment_discount=300, next_payment_date=pd.Timestamp("2026-03-01")), date(2030, 1, 1))
    assert list(rec["amount_due"]) == [700, 1000, 1000, 1000, 1000, 1000]
    assert list(rec["amount_paid"]) == [700, 1000, 0, 0, 0, 0]


def test_plan_starting_after_the_date_gives_nothing_when_open_ended():
    assert expand(plans(installments=pd.NA, start_date=pd.Timestamp("2027-01-01")), date(2026, 1, 1)).empty


@settings(max_examples=300)
@given(
    start=st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31)),
    months=st.sampled_from([0, 1, 2, 3, 6, 12]),
    days=st.integers(min_value=1, max_value=40),
    count=st.integers(min_value=1, max_value=60),
)
def test_vectorised_dates_match_relativedelta_and_never_drift(start, months, days, count):
    interval_days = 0 if months else days
    rec = expand(plans(start_date=pd.Timestamp(start), months=months, days=interval_days, installments=count),
                 date(2100, 1, 1))
    expected = [due_date(start, n, months, interval_days) for n in range(count)]
    assert dates(rec) == expected
    if months:
        assert all(d.day == start.day or d.day < start.day for d in expected)


def test_expanding_in_chunks_gives_the_same_receivables(monkeypatch):
    import dunning.schedule as schedule

    many = pd.concat([plans(order_id=f"P-{i}", start_date=pd.Timestamp("2026-01-31") + pd.Timedelta(days=i),
                            installments=(pd.NA if i % 3 == 0 else 1 + i % 5)) for i in range(11)], ignore_index=True)
    whole = expand(many, date(2026, 12, 31))
    monkeypatch.setattr(schedule, "CHUNK", 3)
    chunked = expand(many, date(2026, 12, 31))
    pd.testing.assert_frame_equal(whole, chunked)
