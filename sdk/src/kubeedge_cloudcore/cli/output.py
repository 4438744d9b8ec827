"""`-o table|json|yaml`: one renderer for every command."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from .context import Output

stdout = Console()
stderr = Console(stderr=True)


def plain(value: Any) -> Any:
    """Models as the server sent them; lists and dicts walked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def emit(data: Any, output: Output, *, columns: Sequence[str] | None = None) -> None:
    """Print `data`: rows as a table (the named columns), one object as key/value lines."""
    data = plain(data)
    if output is Output.JSON:
        print(json.dumps(data, indent=2, default=str))
        return
    if output is Output.YAML:
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")
        return
    if isinstance(data, list):
        names = list(columns or (data[0].keys() if data and isinstance(data[0], dict) else []))
        table = Table(*names)
        for row in data:
            table.add_row(*(_cell(row.get(name)) for name in names))
        stdout.print(table)
        return
    table = Table("field", "value", show_header=False)
    for key, value in data.items() if isinstance(data, dict) else []:
        if columns is None or key in columns:
            table.add_row(key, _cell(value))
    stdout.print(table)
