"""The recovery report: tables for the terminal and JSON, and one self-contained HTML file with charts."""
from __future__ import annotations

import html
import io
from datetime import date

import pandas as pd

from dunning import tracking
from dunning.money import exponent, to_major_string

DIMENSIONS = {"campaign": ["source"], "stage": ["stage"], "reason": ["reason"], "payment method": ["payment_method"]}
MONEY = ("amount_reminded", "amount_recovered", "still_open")
# The terminal shows these of the figures; --json and --html carry every column.
TERMINAL_COLUMNS = ("orders_reminded", "amount_reminded", "amount_recovered", "still_open", "rate_by_amount",
                    "median_days_to_payment")
DETAIL_SUFFIXES = ("_paid", "rate_by_count", "left_list", "opened")


def build(rows: pd.DataFrame, as_of: date) -> dict[str, pd.DataFrame]:
    """Every table of the report, money still in minor units."""
    tables = {f"by {name}": tracking.figures(rows, keys) for name, keys in DIMENSIONS.items()}
    tables["by currency"] = tracking.figures(rows, [])
    tables["days to payment"] = tracking.days_distribution(rows)
    tables["cohorts"] = tracking.cohorts(rows, as_of)
    tables["ageing of what is still open"] = tracking.ageing(rows)
    return tables


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """Money as decimal strings in each row's currency, rates as percentages, for people and JSON."""
    out = table.copy()
    for column in MONEY:
        if column in out and "currency" in out:
            out[column] = [to_major_string(int(v), c) for v, c in zip(out[column], out["currency"])]
    for column in [c for c in out.columns if c.startswith("rate_") or c.startswith("after_")]:
        out[column] = [None if pd.isna(v) else f"{float(v) * 100:.1f}%" for v in out[column]]  # money-safe: a ratio
    if "median_days_to_payment" in out:
        out["median_days_to_payment"] = [None if pd.isna(v) else float(v) for v in out["median_days_to_payment"]]  # money-safe: days
    for column in ("week",):
        if column in out:
            out[column] = [str(v) for v in out[column]]
    return out


def as_json(tables: dict[str, pd.DataFrame]) -> dict:
    return {name: readable(table).astype(object).where(lambda t: t.notna(), None).to_dict("records") for name, table in tables.items()}


def html_report(tables: dict[str, pd.DataFrame], rows: pd.DataFrame, as_of: date, title: str = "Recovery report") -> str:
    """One HTML page with the tables and three charts drawn by matplotlib as inline SVG (no network needed)."""
    charts = [
        ("Recovered and still open, per stage", _stage_chart(rows)),
        ("Recovery curve: share of the reminded amount paid, by days since the reminder", _curve_chart(rows)),
        ("Ageing of what is still open", _ageing_chart(tables["ageing of what is still open"])),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:Arial,sans-serif;margin:2em;color:#222}}"
        "table{border-collapse:collapse;margin:0 0 2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}figure{margin:0 0 2em}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>As of {as_of.isoformat()}: {len(rows)} reminders of "
        f"{rows['order_id'].nunique() if len(rows) else 0} orders. Amounts are never added across currencies.</p>",
    ]
    for caption, svg in charts:
        parts.append(f"<figure><figcaption><b>{html.escape(caption)}</b></figcaption>{svg}</figure>")
    for name, table in tables.items():
        parts.append(f"<h2>{html.escape(name.capitalize())}</h2>")
        parts.append(readable(table).to_html(index=False, na_rep="", border=0, classes=name.replace(" ", "-")))
    parts.append("</body></html>")
    return "".join(parts)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.2))
    return plt, figure, axes


def _svg(plt, figure) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _stage_chart(rows: pd.DataFrame) -> str:
    """Per stage and currency, the share of the reminded amount recovered and still open (comparable across currencies)."""
    plt, figure, axes = _figure()
    if rows.empty:
        axes.text(0.5, 0.5, "no reminders yet", ha="center")
    else:
        sums = rows.groupby(["stage", "currency"])[["reminded", "recovered", "still_open"]].sum()
        labels = [f"{stage or '-'}\n{currency}" for stage, currency in sums.index]
        recovered = sums["recovered"] / sums["reminded"] * 100  # money-safe: a share
        still_open = sums["still_open"] / sums["reminded"] * 100  # money-safe: a share
        axes.bar(labels, recovered, label="recovered", color="#2e7d32")
        axes.bar(labels, still_open, bottom=recovered, label="still open", color="#c62828")
        axes.set_ylabel("% of amount reminded")
        axes.legend(fontsize=7)
    return _svg(plt, figure)


def _curve_chart(rows: pd.DataFrame) -> str:
    plt, figure, axes = _figure()
    days = list(range(0, 31))
    for currency, group in rows.groupby("currency", sort=True):
        reminded = group["reminded"].sum()
        shares = [float(group.loc[group["days_to_full"].le(d).fillna(False), "recovered"].sum() / reminded) if reminded else 0.0  # money-safe: a ratio
                  for d in days]
        axes.plot(days, [s * 100 for s in shares], label=f"{currency}, fully paid")
    axes.set_xlabel("days since the reminder")
    axes.set_ylabel("% of amount reminded")
    if len(rows):
        axes.legend(fontsize=7)
    return _svg(plt, figure)


def _ageing_chart(ageing: pd.DataFrame) -> str:
    plt, figure, axes = _figure()
    for currency, group in ageing.groupby("currency", sort=True):
        axes.bar([f"{d} ({currency})" for d in group["days_overdue"]], group["still_open"] / 10 ** exponent(currency), label=currency)
    axes.set_ylabel("still open (major units)")
    if len(ageing):
        axes.legend(fontsize=7)
    return _svg(plt, figure)
