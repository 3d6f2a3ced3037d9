"""Terminal tables with rich, from the same columns and rows the HTML tables use."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table


def rich_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    title: str | None = None,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
) -> Table:
    """Return a rich Table; ``numeric[i]`` right-aligns column ``i``.

    Cells never wrap, so numbers stay on one line, and the first column is
    as wide as its longest entry, so names stay whole and searchable.
    Headers wrap when the terminal is narrow.
    """
    table = Table(title=title, caption=caption)
    flags = list(numeric) if numeric is not None else [False] * len(columns)
    name_width = max([len(str(row[0])) for row in rows if row], default=0)
    for index, column in enumerate(columns):
        table.add_column(
            column,
            justify="right" if flags[index] else "left",
            no_wrap=True,
            min_width=name_width if index == 0 else None,
        )
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table
