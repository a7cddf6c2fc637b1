"""Tables printed by the CLI (rich, so they stay readable in a terminal and in logs)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.table import Table

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def print_table(title: str, columns: list[str], rows: Iterable[Iterable[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(fmt(v) for v in row))
    console.print(table)


def fmt(value: object) -> str:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def metrics_table(title: str, metrics: Mapping[str, object], prefixes: tuple[str, ...] = ()) -> None:
    rows = [(k, v) for k, v in sorted(metrics.items()) if not prefixes or k.startswith(prefixes)]
    rows = [(k, v) for k, v in rows if not k.endswith("_step")]
    if rows:
        print_table(title, ["metric", "value"], rows)
