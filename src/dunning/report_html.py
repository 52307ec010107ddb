"""The recovery report as HTML, in the merchant's language: the headline per currency first, one chart per currency
where amounts are compared, then the tables with their columns named in words. The standalone file and the
merchant's dashboard render the same body (`report/body.html.j2`)."""
from __future__ import annotations

import io

import pandas as pd
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from dunning.money import format_amount, to_decimal
from dunning.report import Report
from dunning.report_texts import LANGUAGES, TEXTS, campaign_words, stage_words

# The figures tables (by campaign, stage, ...) show these columns; JSON carries every one. A column of zeros only is
# left out of every table.
FIGURES_SHOWN = ("orders_reminded", "amount_reminded", "amount_recovered", "still_open", "amount_closed", "rate_by_amount",
                 "median_days_to_payment")
KEYS = ("source", "stage", "reason", "payment_method", "currency", "decision", "week", "days", "days_overdue", "kind")
WORDS = ("reason", "decision", "payment_method", "kind")
_ENV = Environment(loader=PackageLoader("dunning", "templates/report"), autoescape=select_autoescape(("j2",)))


def render(report: Report, language: str, *, standalone: bool = True, stage_labels: dict[str, str] | None = None) -> str:
    """The report page (standalone: a self-contained file with its style) or its body for the dashboard."""
    language = language if language in LANGUAGES else "en"
    context = view(report, language, stage_words(language, stage_labels or {}))
    template = _ENV.get_template("page.html.j2" if standalone else "body.html.j2")
    return template.render(**context)


def stylesheet() -> Markup:
    """The report's style, for a page that shows the report's body (the merchant's dashboard)."""
    return Markup(_ENV.get_template("style.css.j2").render())


def view(report: Report, language: str, stage_labels: dict[str, str]) -> dict:
    """What the page shows, formatted in the language: headline cards, charts, tables."""
    t = TEXTS[language]
    rows = report.rows
    cards = [{
        "currency": h.currency,
        "figures": [(t["recovered"], format_amount(int(h.recovered), h.currency, language), "good"),
                    (t["rate"], format_percent(h.rate, locale=language) if pd.notna(h.rate) else "–", ""),
                    (t["still_open"], format_amount(int(h.still_open), h.currency, language), "open"),
                    (t["reminded"], format_amount(int(h.reminded), h.currency, language), ""),
                    (t["orders_reminded"], format_decimal(h.orders, locale=language), "")]
                   + ([(t["closed"], format_amount(int(h.closed), h.currency, language), "")] if h.closed else [])
                   + ([(t["median_days"], format_decimal(h.median_days, locale=language), "")] if pd.notna(h.median_days) else []),
    } for h in report.headline.itertuples()]
    charts = []
    for currency, group in rows.groupby("currency", sort=True) if len(rows) else []:
        charts.append((t["chart_stage"].format(currency=currency), _stage_chart(group, currency, t, stage_labels)))
        ageing = report.tables["ageing of what is still open"]
        mine = ageing[ageing["currency"] == currency]
        if mine["still_open"].sum() > 0:
            charts.append((t["chart_ageing"].format(currency=currency), _ageing_chart(mine, currency, t)))
    if len(rows):
        charts.append((t["chart_curve"], _curve_chart(rows, t)))
    start = rows["as_of"].min().date() if len(rows) else None
    return {
        "t": t, "language": language, "cards": cards, "charts": charts,
        "tables": [(t.get(name, name), _table(table, name, language, t, stage_labels)) for name, table in report.tables.items()
                   if len(table)],
        "as_of_text": t["as_of"].format(date=format_date(report.as_of, format="long", locale=language)),
        "period_text": t["period"].format(start=format_date(start, format="long", locale=language),
                                          end=format_date(report.as_of, format="long", locale=language)) if start else t["no_reminders"],
    }


def _table(table: pd.DataFrame, name: str, language: str, t: dict, stage_labels: dict[str, str]) -> dict:
    """Header words and formatted cells; money in each row's currency, rates as percentages, words for codes."""
    columns = [c for c in table.columns if c in KEYS] + [c for c in (FIGURES_SHOWN if name.startswith("by ") else table.columns)
                                                        if c not in KEYS and c in table.columns]
    columns = [c for c in columns if c in KEYS or not _all_zero(table[c])]
    body = []
    for row in table.to_dict("records"):
        body.append([_cell(column, row, language, t, stage_labels) for column in columns])
    return {"key": name.replace(" ", "-"), "head": [t.get(c, c.replace("_", " ")) for c in columns],
            "numeric": [c not in KEYS for c in columns], "rows": body}


def _cell(column: str, row: dict, language: str, t: dict, stage_labels: dict[str, str]) -> str:
    value = row[column]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t["not_yet"] if column.startswith("after_") else "–"
    if column in ("amount_reminded", "amount_recovered", "still_open", "amount_closed", "amount_announced",
                  "amount_paid_on_time", "amount", "amount_charged", "amount_settled", "amount_open"):
        return format_amount(int(value), row["currency"], language)
    if column.startswith("rate_") or column.startswith("after_"):
        return format_percent(float(value), locale=language)  # money-safe: a ratio
    if column == "median_days_to_payment":
        return format_decimal(value, locale=language)
    if column == "stage":
        return stage_labels.get(value, value) or "–"
    if column == "source":
        return campaign_words(language, str(value))
    if column in WORDS:
        return t.get(value, value)
    if column == "week":
        return format_date(value, format="medium", locale=language)
    return str(value)


def _all_zero(column: pd.Series) -> bool:
    numbers = pd.to_numeric(column, errors="coerce")
    return bool(numbers.notna().all() and (numbers == 0).all())


def _stage_chart(rows: pd.DataFrame, currency: str, t: dict, stage_labels: dict[str, str]) -> Markup:
    """Recovered and still open per stage, in the currency's major units (one currency per chart)."""
    plt, figure, axes = _figure()
    sums = rows.groupby("stage", sort=False)[["recovered", "still_open"]].sum()
    labels = [stage_labels.get(stage, stage) or "–" for stage in sums.index]
    recovered = [float(to_decimal(int(v), currency)) for v in sums["recovered"]]  # money-safe: chart heights only
    still_open = [float(to_decimal(int(v), currency)) for v in sums["still_open"]]  # money-safe: chart heights only
    axes.barh(labels, recovered, label=t["recovered"], color="#2e7d32")
    axes.barh(labels, still_open, left=recovered, label=t["still_open"], color="#c62828")
    axes.set_xlabel(currency)
    axes.legend(fontsize=8, loc="lower right")
    return _svg(plt, figure)


def _ageing_chart(ageing: pd.DataFrame, currency: str, t: dict) -> Markup:
    plt, figure, axes = _figure()
    values = [float(to_decimal(int(v), currency)) for v in ageing["still_open"]]  # money-safe: chart heights only
    axes.bar([str(d) for d in ageing["days_overdue"]], values, color="#c62828")
    axes.set_xlabel(t["days_overdue"])
    axes.set_ylabel(currency)
    return _svg(plt, figure)


def _curve_chart(rows: pd.DataFrame, t: dict) -> Markup:
    """Shares, so currencies can stand side by side: the part of the reminded amount paid in full by day d."""
    plt, figure, axes = _figure()
    days = list(range(0, 31))
    for currency, group in rows.groupby("currency", sort=True):
        reminded = group["reminded"].sum()
        shares = [float(group.loc[group["days_to_full"].le(d).fillna(False), "recovered"].sum() / reminded) * 100 if reminded else 0.0  # money-safe: a share
                  for d in days]
        axes.plot(days, shares, label=currency)
    axes.set_xlabel(t["days"])
    axes.set_ylabel("%")
    axes.set_ylim(0, 100)
    axes.legend(fontsize=8)
    return _svg(plt, figure)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 2.8))
    return plt, figure, axes


def _svg(plt, figure) -> Markup:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return Markup(text[text.index("<svg"):])
