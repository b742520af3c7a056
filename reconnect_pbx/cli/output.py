"""How commands print: aligned tables and fields for people, JSON (``--json``) for scripts.

Times are shown in Europe/Paris, where the centres are; JSON carries the same local time in ISO 8601
with its UTC offset, so it stays unambiguous.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import click

from reconnect_pbx.services import LOCAL_TIMEZONE

DISPLAY_TIMEZONE = LOCAL_TIMEZONE

F = TypeVar("F", bound=Callable[..., Any])


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(command)


def local_time(value: datetime) -> datetime:
    return value.astimezone(DISPLAY_TIMEZONE)


def text(value: Any) -> str:
    """One cell: '-' for nothing, local minutes for times, the value of enums."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return local_time(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "nothing to show") -> None:
    if not rows:
        click.echo(empty)
        return
    cells = [[text(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    click.echo(_line(headers, widths))
    click.echo(_line(["-" * w for w in widths], widths))
    for row in cells:
        click.echo(_line(row, widths))


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    width = max(len(label) for label, _ in fields) + 1
    for label, value in fields:
        click.echo(f"{label + ':':<{width}} {text(value)}")


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(f"{v:<{w}}" for v, w in zip(values, widths)).rstrip()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return local_time(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
