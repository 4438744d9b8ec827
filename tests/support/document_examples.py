"""The request and response examples of the two contract documents, and every endpoint
they list, as checked-in data (`document_examples.json`, written by
`python -m tests.support.seed_examples`; its docstring says how to regenerate).

Only facts are kept: method, path, headers, body, response JSON, and the line of the
document each one starts on. The documents themselves are not in the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("document_examples.json")


@dataclass(frozen=True)
class Example:
    document: str  # "cloudcore" or "edge"
    method: str
    path: str  # as written, with the document's IDs or {placeholders}
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    response: Any = None  # the example answer (parsed JSON), None when none is shown
    lines: tuple[int, ...] = ()  # where it starts in its document; more if it is repeated

    @property
    def line(self) -> int:
        return self.lines[0]

    @property
    def name(self) -> str:
        return f"{self.document}:{self.method} {self.path} (line {self.line})"

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "lines": list(self.lines),
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "response": self.response,
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Example:
        return cls(
            item["document"], item["method"], item["path"], dict(item["headers"]),
            item["body"], item["response"], tuple(item["lines"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    document: str
    method: str
    path: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document, "line": self.line, "method": self.method,
                "path": self.path}  # fmt: skip


@cache
def load(path: Path = DATA) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def examples(document: str | None = None) -> list[Example]:
    """In document order; `document` is "cloudcore" or "edge", or None for both."""
    found = [Example.from_json(item) for item in load()["examples"]]
    return [e for e in found if document is None or e.document == document]


def endpoints() -> list[Endpoint]:
    """Every `METHOD /path` either document lists, with an example or not."""
    return [Endpoint(**item) for item in load()["endpoints"]]
