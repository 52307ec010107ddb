"""What every part of the journal shares: the clock of record, inserts the database settles, frames read fast."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from functools import lru_cache

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

BATCH = 900  # ids per IN (...) list: below SQLite's default limit of variables per statement
ROWS_PER_EXECUTE = 20_000


def now() -> datetime:
    return datetime.now(timezone.utc)


def next_id(db: sa.Connection, column: sa.Column) -> int:
    """One above the highest value of an id column (the caller holds the ledger's write lock)."""
    return int(db.execute(sa.select(sa.func.coalesce(sa.func.max(column), 0))).scalar_one()) + 1


def insert_new(db: sa.Connection, table: sa.Table, rows: list[dict] | pd.DataFrame, keys: list[str] | None,
               stamp_column: str | None = "recorded_at", update: list[str] | None = None) -> int:
    """INSERT ... ON CONFLICT DO NOTHING for many rows (dicts, or a frame's columns); returns how many of them this
    call added (with `update`, the columns a row already there takes from the new one: an upsert; with `keys` None,
    a plain insert).

    The database decides what is new (its unique constraint), so two processes inserting the same
    rows at once add each row once, and each learns how many were its own (the driver's row count,
    summed over the batch, inside this transaction). A frame goes in column by column, a slice of rows at a
    time, each slice's dates converted in one step."""
    columns = _columns(rows)
    if not columns or not len(next(iter(columns.values()))):
        return 0
    count = len(next(iter(columns.values())))
    insert = (postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert)(table)
    names = [*columns, *([stamp_column] if stamp_column else [])]
    statement = insert.values({c: sa.bindparam(c) for c in names})
    if keys is not None:
        statement = (statement.on_conflict_do_update(index_elements=keys, set_={c: insert.excluded[c] for c in update}) if update
                     else statement.on_conflict_do_nothing(index_elements=keys))
    compiled = statement.compile(dialect=db.dialect)
    sqlite_order = compiled.positiontup or []
    convert = _sqlite_values if sqlite_order else _python_values
    stamp = convert(table.c[stamp_column].type, [now()])[0] if stamp_column else None  # one time for every row, converted once
    cursor = db.connection.dbapi_connection.cursor()
    try:
        added = 0
        for start in range(0, count, ROWS_PER_EXECUTE):  # converted a slice at a time: memory stays bounded
            part = {name: (values.iloc if isinstance(values, pd.Series) else values)[start:start + ROWS_PER_EXECUTE]
                    for name, values in columns.items()}
            size = len(next(iter(part.values())))
            if stamp_column:
                part[stamp_column] = [stamp] * size
            if sqlite_order:  # SQLite (qmark): values in the statement's order, dates as SQLAlchemy stores them
                batch = list(zip(*(convert(table.c[name].type, part[name]) for name in sqlite_order)))
            else:  # PostgreSQL: psycopg adapts Python values itself
                lists = [convert(table.c[name].type, part[name]) for name in names]
                batch = [dict(zip(names, row)) for row in zip(*lists)]
            cursor.executemany(str(compiled), batch)
            added += max(cursor.rowcount, 0)
    finally:
        cursor.close()
    return added


def read_frame(db: sa.Connection, table: sa.Table, columns: list[str], where: sa.ColumnElement | None = None) -> pd.DataFrame:
    """A table as a frame, typed the same whether or not it has rows; dates travel as ISO text and are converted in
    one vectorised step (far faster than a date object per row)."""
    selected = [sa.cast(table.c[c], sa.String).label(c) if isinstance(table.c[c].type, sa.Date) else table.c[c]
                for c in columns]
    query = sa.select(*selected)
    return read_typed(db, query if where is None else query.where(where), table, columns)


def fetch(db: sa.Connection, query: sa.Select) -> list[tuple]:
    """The rows of a query as plain tuples through the driver's cursor: a million rows load in a second. The values
    are bound, never pasted into the SQL: a where clause may hold what a request sent."""
    with _executed(db, query) as cursor:
        return cursor.fetchall()


def fetch_bound(db: sa.Connection, query: sa.Select, **values) -> list[tuple]:
    """`fetch` for a query of named bind parameters, compiled once per dialect: a read on every page view, where
    compiling, or SQLAlchemy's result rows, would cost more than the query. Cast dates to text in the query: the
    drivers differ in what they give back."""
    compiled = _compiled(query, db.dialect)
    with _run(db, compiled, compiled.construct_params(values)) as cursor:
        return cursor.fetchall()


@lru_cache(maxsize=64)
def _compiled(query: sa.Select, dialect: sa.Dialect) -> sa.Compiled:
    return query.compile(dialect=dialect)


def read_typed(db: sa.Connection, query: sa.Select, table: sa.Table, columns: list[str], slice_rows: int = 100_000) -> pd.DataFrame:
    """`typed(fetch(db, query), table, columns)` a slice of rows at a time: the driver's rows (a Python object per
    value) never outnumber one slice."""
    with _executed(db, query) as cursor:
        frames = []
        while rows := cursor.fetchmany(slice_rows):
            frames.append(typed(rows, table, columns))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0] if frames else typed([], table, columns)


def read_keyed(db: sa.Connection, query: sa.Select, table: sa.Table, columns: list[str], key: sa.Column, keys: list,
               whole: bool, slice_rows: int = 100_000) -> pd.DataFrame:
    """The rows of `query` whose `key` is one of `keys`, typed as `typed` types them: the whole table read and then
    filtered (`whole`), or asked for BATCH keys at a time; either way a slice of rows is typed at a time."""
    if whole:
        frame = read_typed(db, query, table, columns, slice_rows)
        return frame[frame[key.name].isin(keys)].reset_index(drop=True)
    frames, rows = [], []
    for start in range(0, len(keys), BATCH):
        rows += fetch(db, query.where(key.in_(keys[start:start + BATCH])))
        if len(rows) >= slice_rows:
            frames.append(typed(rows, table, columns))
            rows = []
    if rows or not frames:
        frames.append(typed(rows, table, columns))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _executed(db: sa.Connection, query: sa.Select):
    """The driver's cursor with the query executed, its values bound."""
    compiled = query.compile(dialect=db.dialect, compile_kwargs={"render_postcompile": True})
    return _run(db, compiled, compiled.params)


@contextmanager
def _run(db: sa.Connection, compiled: sa.Compiled, params: dict) -> Iterator:
    """The driver's cursor with a compiled statement executed on the connection, `params` bound in its order."""
    args = tuple(params[name] for name in compiled.positiontup) if compiled.positiontup else params
    cursor = db.connection.dbapi_connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        yield cursor
    finally:
        cursor.close()


def typed(rows: list[tuple], table: sa.Table, columns: list[str]) -> pd.DataFrame:
    """Rows of `table`'s columns as a frame: dates as datetime64, times in UTC, integers as int64 (or Int64 where
    the column may be empty), and text with each value repeated down a column held once (the driver makes a new
    string for every cell)."""
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in columns:
        kind = table.c[column].type
        if isinstance(kind, sa.DateTime):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601", errors="coerce")
        elif isinstance(kind, sa.Date):  # whatever an older version stored never stops a later run
            frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
        elif isinstance(kind, sa.Boolean):
            frame[column] = frame[column].astype(bool)
        elif isinstance(kind, (sa.BigInteger, sa.Integer)):
            frame[column] = frame[column].astype("Int64" if table.c[column].nullable and frame[column].isna().any() else "int64")
        elif frame[column].dtype == object:
            frame[column] = _shared(frame[column])
    return frame


def _shared(values: pd.Series) -> pd.Series:
    """The same values, each distinct one held once where values repeat (missing ones kept as they are)."""
    codes, uniques = pd.factorize(values)
    if len(uniques) * 2 > len(values):
        return values
    held = np.asarray(uniques, dtype=object)[codes]
    missing = codes < 0
    held[missing] = values.to_numpy(dtype=object)[missing]
    return pd.Series(held, index=values.index, dtype=object)


def _columns(rows: list[dict] | pd.DataFrame) -> dict[str, list | pd.Series]:
    if isinstance(rows, pd.DataFrame):
        return {name: rows[name] for name in rows.columns}
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def _python_values(kind: sa.types.TypeEngine, values: list | pd.Series) -> list:
    """A column as Python values a driver binds: dates as dates, missing values as None."""
    if not isinstance(values, pd.Series):
        return values
    if pd.api.types.is_datetime64_any_dtype(values):
        return (values.dt.date if isinstance(kind, sa.Date) else values.dt.to_pydatetime()).astype(object).where(values.notna(), None).tolist()
    if isinstance(kind, sa.Boolean):
        return [bool(v) for v in values]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":  # numpy integers hold no missing value
        return values.tolist()
    return values.to_numpy(dtype=object, na_value=None).tolist()


def _sqlite_values(kind: sa.types.TypeEngine, values: list | pd.Series) -> list:
    """A column's values as SQLAlchemy stores them in SQLite: dates as ISO text, times in UTC without an offset."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values):
        if isinstance(kind, sa.Date) and values.dt.tz is None:  # numpy writes ISO dates far faster than strftime
            text = np.datetime_as_string(values.to_numpy(dtype="datetime64[D]"), unit="D").astype(object)
            text[values.isna().to_numpy()] = None
            return text.tolist()
        text = values.dt.strftime("%Y-%m-%d" if isinstance(kind, sa.Date) else "%Y-%m-%d %H:%M:%S.%f")
        return text.astype(object).where(values.notna(), None).tolist()
    values = _python_values(kind, values)
    if isinstance(kind, sa.Boolean):
        return [None if v is None else int(v) for v in values]
    first = next((v for v in values if v is not None), None)
    if isinstance(first, datetime):
        return [v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") if v is not None else None for v in values]
    if isinstance(first, date):
        return [v.isoformat() if v is not None else None for v in values]
    return values
