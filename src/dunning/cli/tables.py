"""Tables that fit the terminal: columns chosen by width, and an order id or an amount never cut."""
from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table


@dataclass(frozen=True)
class Column:
    """A table column; `keep` columns (order ids, amounts) are always shown and never cut or wrapped."""

    name: str
    keep: bool = False
    right: bool = False


def fitted(title: str, columns: list[Column], rows: list[list[str]], width: int) -> Table:
    """A rich Table with the `keep` columns, then as many others (in the given order) as `width` holds."""
    widths = [max([len(c.name)] + [max((len(line) for line in str(r[i]).splitlines()), default=0) for r in rows]) + 3
              for i, c in enumerate(columns)]
    chosen = {i for i, c in enumerate(columns) if c.keep}
    used = sum(widths[i] for i in chosen) + 1
    for i, column in enumerate(columns):
        if i not in chosen and used + min(widths[i], 14) <= width:
            chosen.add(i)
            used += min(widths[i], 14)
    table = Table(title=title)
    picked = sorted(chosen)
    for i in picked:
        column = columns[i]
        table.add_column(column.name, justify="right" if column.right else "left", no_wrap=column.keep,
                         min_width=widths[i] - 3 if column.keep else None, overflow="fold")
    for row in rows:
        table.add_row(*[str(row[i]) for i in picked])
    return table
