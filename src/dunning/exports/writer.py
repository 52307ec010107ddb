"""Write an export for a newsletter tool: the CSV, its reminder templates, a manifest, and rejects."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
from markupsafe import Markup

from dunning import __version__
from dunning.arrowtext import arrow_strings
from dunning.errors import InputError
from dunning.exports import fields
from dunning.exports.dialects import Dialect
from dunning import files, letters, mailmerge
from dunning.files import single_line
from dunning.mailmerge import TEMPLATE_VARIABLES, Templates
from dunning.money import to_major_string
from dunning.policy import Policy
from dunning.sources.parsing import email_reasons
from dunning.sources.rejects import REJECT_COLUMNS

IDENTITY = ("email", "first_name", "last_name")  # written exactly as they are, or the row is left out


@dataclass
class Shop:
    """What the templates say about the merchant."""

    name: str = "Example Shop"
    contact: str = ""
    address: str = ""


@dataclass
class ExportResult:
    """What was written and what was left out."""

    csv_path: Path
    manifest_path: Path
    template_paths: list[Path]
    rows: int
    rejects: pd.DataFrame
    rejects_path: Path | None
    clipped_cells: int
    without_stage: int
    totals: list[dict] = field(default_factory=list)
    values: pd.DataFrame = field(default_factory=pd.DataFrame)  # the rows written, as their field values
    riding: pd.DataFrame = field(default_factory=pd.DataFrame)  # orders another row of their address stands for
    held_back: list[str] = field(default_factory=list)  # orders of an address already in the file: for the next export
    staging: files.Staging = field(default_factory=files.Staging)  # written with `pending`: named at commit

    def commit(self) -> None:
        """Give the files their names (after the hand-over was recorded)."""
        self.staging.commit()

    def discard(self) -> None:
        """Remove the files of an export whose hand-over could not be recorded."""
        self.staging.discard()


def default_path(folder: Path, tool: str, as_of: date, filter_words: list[str]) -> Path:
    """exports/<tool>-<as_of>[-<filters>].csv, numbered when it exists (never overwrites)."""
    slug = "-".join(re.sub(r"[^a-z0-9]+", "_", w.lower()).strip("_") for w in filter_words if w)
    stem = f"{tool}-{as_of.isoformat()}" + (f"-{slug[:60]}" if slug else "")
    path, n = folder / f"{stem}.csv", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.csv", n + 1
    return path


def write(
    frame: pd.DataFrame,
    dialect: Dialect,
    path: Path,
    *,
    as_of: date,
    policy: Policy | None = None,
    shop: Shop | None = None,
    templates: Templates | None = None,
    fallback_language: str = "en",
    filters: dict | None = None,
    sources: list[str] | None = None,
    encoding: str | None = None,
    overwrite: bool = False,
    pending: bool = False,
) -> ExportResult:
    """Write `frame` (overdue orders with token and manage_url) for one newsletter tool.

    Rows without a usable e-mail address, and rows the file's encoding cannot hold, go to a
    rejects file; orders not yet at a reminder stage are left out and counted. Every file is written whole under a
    temporary name and renamed; with `pending` the renaming waits for the result's `commit()`.
    """
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists; choose another -o path or pass --force to replace it")
    encoding = encoding or dialect.encoding
    staged = frame[frame["stage"].fillna("") != ""]
    templates = templates or Templates(fallback_language=fallback_language)
    values = fields.values(staged, fallback_language, templates.languages())
    for key in ("email", "first_name", "last_name"):
        values[key] = single_line(values[key])
    problems = []
    why = email_reasons(values["email"]).where(values["email"] != "", "no e-mail address")
    bad_email = why != ""
    problems.append(_rejects(values, bad_email, "email", "no usable e-mail address: " + why[bad_email]))
    refused = dialect.refused_addresses(values["email"]).where(~bad_email, "")
    bad_email |= refused != ""
    problems.append(_rejects(values, refused != "", "email", refused[refused != ""] + ": remind this customer another way"))
    for key in IDENTITY:
        formula = files.starts_formula(values[key]) & ~bad_email
        bad_email |= formula
        problems.append(_rejects(values, formula, key, "begins with " + values[key][formula].str[0].map(repr).astype("string")
                                 + f", which a spreadsheet runs as a formula; guarded, it would reach {dialect.title} "
                                   "changed: remind this customer another way"))
    table, clipped_per_row = _table(values, dialect)
    unencodable = _unencodable(table, encoding) & ~bad_email
    problems.append(_rejects(values, unencodable, "(row)", f"has characters {encoding} cannot hold (try --encoding utf-8)"))
    keep = ~(bad_email | unencodable)
    riding = pd.Series(False, index=values.index)
    held_back: list[str] = []
    if dialect.one_contact_per_address:
        values, carriers, held = letters.together(values, keep, dialect.fits)
        riding = carriers.notna()
        held_back = values.loc[held, "order_id"].astype(str).tolist()
        keep &= ~(riding | held)
        if riding.any():  # the rows that carry others have a new field: their columns again
            table, clipped_per_row = _table(values, dialect)
    riders = values[riding]
    table, values = table[keep.to_numpy()], values[keep]
    clipped = int(clipped_per_row[keep.to_numpy()].sum())

    sent_before = staged["reminders_sent"][keep.to_numpy()] if "reminders_sent" in staged else pd.Series(0, index=values.index)
    rendered = _render_templates(values.assign(reminders_sent=sent_before.to_numpy()), dialect, path, policy, shop or Shop(),
                                 templates, as_of)
    _check_addressed(dialect, rendered)
    data = files.csv_bytes(table, delimiter=dialect.delimiter, encoding=encoding)
    staging = files.Staging()
    staging.write(path, data, overwrite=overwrite)
    rejects = pd.concat([p for p in problems if not p.empty]) if any(not p.empty for p in problems) else pd.DataFrame(columns=REJECT_COLUMNS)
    rejects_path = None
    if not rejects.empty:
        rejects_path = path.with_name(path.stem + ".rejects.csv")
        staging.write(rejects_path, files.csv_bytes(rejects[REJECT_COLUMNS]), overwrite=True)
    for template_path, text in rendered:
        staging.write(template_path, text.encode("utf-8"), overwrite=True)
    template_paths = [template_path for template_path, _ in rendered]
    totals = _totals(staged[(keep | riding).to_numpy()])
    manifest_path = path.with_name(path.stem + ".manifest.json")
    manifest = {
        "tool": dialect.name, "as_of": as_of.isoformat(), "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dunning_version": __version__, "sources": sources or [], "filters": filters or {},
        "file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "encoding": encoding, "delimiter": dialect.delimiter,
        "rows": int(len(table)), "rows_rejected": int(len(rejects)), "orders_without_stage_left_out": int(len(frame) - len(staged)),
        "orders_held_for_the_next_export": held_back,
        "cells_clipped": clipped, "totals_per_currency": totals,
        "columns": _column_meanings(dialect, table.columns),
        "templates": [p.name for p in template_paths], "tool_notes": list(dialect.notes), "tool_sources": list(dialect.sources),
    }
    staging.write(manifest_path, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), overwrite=True)
    result = ExportResult(path, manifest_path, template_paths, int(len(table)), rejects, rejects_path, clipped,
                          int(len(frame) - len(staged)), totals, values, staging=staging, riding=riders, held_back=held_back)
    if not pending:
        result.commit()
    return result


def _table(values: pd.DataFrame, dialect: Dialect) -> tuple[pd.DataFrame, pd.Series]:
    """The CSV's columns under the dialect's headers, formatted and clipped to the tool's limit; and how many cells
    of each row were clipped."""
    columns: dict[str, pd.Series] = {}
    for f in fields.FIELDS:
        if dialect.full_name_header and f.key in ("first_name", "last_name"):
            continue
        column = values[f.key]
        if f.kind == fields.DATE:
            column = column.dt.strftime(dialect.date_format).astype("string").fillna("")
        elif f.kind == fields.NUMBER and dialect.decimal != ".":
            column = column.str.replace(".", dialect.decimal, regex=False)
        columns[dialect.headers[f.key]] = column
        if f.key == "email" and dialect.full_name_header:
            columns[dialect.full_name_header] = (values["first_name"] + " " + values["last_name"]).str.strip()
    if dialect.tags_header:
        tags = "dunning-" + values["stage"] + ",lang-" + values["language"]
        for line in ("fee", "interest", "costs", "other_orders"):  # a segment per line the message carries
            tags = tags + (values[f"{line}_text"] != "").map({True: f",{line}", False: ""}).astype("string")
        columns[dialect.tags_header] = tags
    table = pd.DataFrame(columns)
    clipped = pd.Series(0, index=table.index)
    for name in table.columns:
        if name == dialect.headers["email"]:
            continue  # an address is never cut: the tool's rules refuse it instead
        if dialect.max_text_bytes:
            too_long = pc.binary_length(arrow_strings(table[name])).to_numpy(zero_copy_only=False) > dialect.max_text_bytes
            clip = lambda v: v.encode("utf-8")[:dialect.max_text_bytes].decode("utf-8", errors="ignore")  # noqa: E731
        elif dialect.max_text_chars:
            too_long = pc.utf8_length(arrow_strings(table[name])).to_numpy(zero_copy_only=False) > dialect.max_text_chars
            clip = lambda v: v[:dialect.max_text_chars]  # noqa: E731
        else:
            break
        too_long = pd.Series(too_long, index=table.index)
        if too_long.any():
            clipped += too_long
            table.loc[too_long, name] = table.loc[too_long, name].map(clip)
    return table, clipped


def _unencodable(table: pd.DataFrame, encoding: str) -> pd.Series:
    """Rows with a character the encoding cannot hold (each column tried whole first)."""
    bad = pd.Series(False, index=table.index)
    if encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig"):
        return bad
    for name in table.columns:
        column = table[name].fillna("")
        if not _encodes("".join(column), encoding):
            bad |= ~column.map(lambda text: _encodes(text, encoding)).astype(bool)
    return bad


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _rejects(values: pd.DataFrame, mask: pd.Series, column: str, reason: str | pd.Series) -> pd.DataFrame:
    picked = values[mask]
    return pd.DataFrame({
        "file": "overdue orders", "row": picked["order_id"].to_numpy(), "column": column,
        "reason": reason, "value": picked["email"].to_numpy() if column == "email" else "",
    }, columns=REJECT_COLUMNS)


def _render_templates(values: pd.DataFrame, dialect: Dialect, path: Path, policy: Policy | None,
                      shop: Shop, templates: Templates, as_of: date) -> list[tuple[Path, str]]:
    """The reminder template for each stage and language in the export, in the tool's placeholders, with the path
    it goes to; customers asked a fee, interest or costs get a template of their own (`.with-fee`, `.with-fee-interest`,
    tags `fee`, `interest`, `costs`), so nobody reads about a fee of nothing."""
    stages = {s.name: s for s in (policy.stages if policy else ())}
    rendered: list[tuple[Path, str]] = []
    # "Despite our reminders" only where every customer of the template was reminded before.
    texts = values[[f"{line}_text" for line in mailmerge.LINES]].to_dict("records")
    lines = pd.Series(["-".join(sorted(mailmerge.asks(row))) for row in texts], index=values.index, dtype="string")
    groups = values.assign(lines=lines).groupby(["stage", "language", "lines"], sort=True)
    for (stage_name, language, carried), reminders_sent in groups["reminders_sent"].min().items():
        stage = stages.get(stage_name)
        tags = {key: Markup(dialect.tag(key)) for key in TEMPLATE_VARIABLES}
        context = mailmerge.context(tags, language=language, stage=stage, stage_name=stage_name, shop_name=shop.name,
                                    shop_contact=shop.contact, asked=frozenset(carried.split("-")) - {""},
                                    reminders_sent=int(reminders_sent),
                                    shop_address=shop.address, pay_by_text=mailmerge.pay_by_text(stage, as_of, language),
                                    unsubscribe_url=Markup(dialect.unsubscribe))
        message = templates.render(stage_name, language, context)
        base = path.with_name(f"{path.stem}.template.{stage_name}.{language}" + (f".with-{carried}" if carried else ""))
        rendered.append((base.with_suffix(base.suffix + ".txt"), f"Subject: {message.subject}\n\n{message.text}"))
        if message.html:
            rendered.append((base.with_suffix(base.suffix + ".html"), message.html))
    return rendered


def _check_addressed(dialect: Dialect, rendered: list[tuple[Path, str]]) -> None:
    """A tool that addresses the merchant's own fields by id (KlickTipp) needs an id for every field the templates
    use: without one the placeholder stays empty in every message. Stops before anything is written."""
    if not dialect.field_ids_setting:
        return
    text = "".join(content for _, content in rendered)
    missing = [key for key in TEMPLATE_VARIABLES
               if dialect.merge_names[key] not in dialect.built_in_fields and not dialect.merge_names[key].isdigit()
               and dialect.tag(key) in text]
    if missing:
        raise InputError(f"{dialect.title} addresses the fields you create by their numeric id, and the template uses "
                         f"{', '.join(missing)} without one: set them in [{dialect.field_ids_setting}] in dunning.toml "
                         f"(e.g. {missing[0]} = \"123456\"); nothing was written")


def _totals(frame: pd.DataFrame) -> list[dict]:
    if frame.empty:
        return []
    grouped = frame.groupby("currency").agg(orders=("order_id", "size"), open_amount=("open_amount", "sum"))
    return [{"currency": c, "orders": int(r.orders), "open_amount": to_major_string(int(r.open_amount), c)}
            for c, r in grouped.iterrows()]


def _column_meanings(dialect: Dialect, headers: pd.Index) -> list[dict]:
    by_header = {dialect.headers[f.key]: f for f in fields.FIELDS if f.key in dialect.headers}
    described = []
    for header in headers:
        if header in by_header:
            f = by_header[header]
            described.append({"column": header, "field": f.key, "meaning": f.meaning,
                              "placeholder": dialect.tag(f.key) if f.key in dialect.merge_names else None})
        elif header == dialect.full_name_header:
            described.append({"column": header, "field": "first_name + last_name", "meaning": "full name"})
        else:
            described.append({"column": header, "field": "tags", "meaning": "dunning-<stage> and lang-<language>"})
    return described
