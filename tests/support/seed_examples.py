"""The request and response examples of the two contract documents, read from the
documents themselves (`docs/seeds/`), so a test replays what the documents say rather
than a copy that could drift.

CloudCore (`001_…`): every `curl` command (method, URL, `-H` headers, `-d` body) and the
JSON after the next "Response" before the next curl, plus every documented endpoint
line (`GET /api/kubeedge/...`), with or without an example. Edge API (`000_…`): each
fenced `METHOD /path` block, with the JSON blocks after "Request Body" and "Response"
up to the next endpoint or top-level section.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SEEDS = Path(__file__).resolve().parents[2] / "docs" / "seeds"
CLOUDCORE_DOC = SEEDS / "001_fed856e69615b9ba.txt"
EDGE_DOC = SEEDS / "000_bbe216ccace55f4a.txt"

_METHODS = "GET|POST|PUT|DELETE|PATCH"
_ENDPOINT_LINE = re.compile(rf"^({_METHODS}) (/\S+)$", re.MULTILINE)


# Documented endpoints other branches are building: no route here yet (path prefix: what).
NOT_BUILT = {
    "/api/kubeedge/security/": "security certificates and logs",
    "/api/kubeedge/maintenance/": "maintenance",
    "/api/kubeedge/postman.json": "Postman collection",
}


def not_built(path: str) -> str | None:
    return next((what for prefix, what in NOT_BUILT.items() if path.startswith(prefix)), None)


@dataclass(frozen=True)
class Example:
    document: str  # "cloudcore" or "edge"
    method: str
    path: str  # as written, with the document's IDs or {placeholders}
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    response: Any = None  # the example answer (parsed JSON), None when none is shown
    line: int = 0  # where the example starts in its document

    @property
    def name(self) -> str:
        return f"{self.document}:{self.method} {self.path} (line {self.line})"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _json_after(text: str, start: int, end: int) -> Any:
    """The first JSON object from `start`, if it begins before `end`."""
    brace = text.find("{", start, end)
    if brace < 0:
        return None
    value, _ = json.JSONDecoder().raw_decode(text, brace)
    return value


def _curl_end(text: str, start: int) -> int:
    """Where the curl command at `start` ends: a newline outside quotes not after `\\`."""
    quote: str | None = None
    i = start
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "\n" and text[i - 1] != "\\":
            return i
        i += 1
    return i


def _parse_curl(command: str) -> tuple[str, str, dict[str, str], Any]:
    words = shlex.split(command.replace("\\\n", " "))
    method, url, headers, body = "GET", "", {}, None
    words_iter = iter(words[1:])
    for word in words_iter:
        if word == "-X":
            method = next(words_iter)
        elif word == "-H":
            name, _, value = next(words_iter).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = json.loads(next(words_iter))
            method = method if "-X" in words else "POST"  # curl's own default with -d
        elif word.startswith("http"):
            url = word
    return method, urlsplit(url).path, headers, body


def cloudcore_examples(text: str | None = None) -> list[Example]:
    text = CLOUDCORE_DOC.read_text(encoding="utf-8") if text is None else text
    starts = [m.start() for m in re.finditer(r"^curl ", text, re.MULTILINE)]
    examples = []
    for index, start in enumerate(starts):
        end = _curl_end(text, start)
        method, path, headers, body = _parse_curl(text[start:end])
        following = starts[index + 1] if index + 1 < len(starts) else len(text)
        response = None
        answer = re.compile(r"^(# )?Response:?\s*$", re.MULTILINE).search(text, end, following)
        if answer:
            response = _json_after(text, answer.end(), following)
        examples.append(
            Example("cloudcore", method, path, headers, body, response, _line_of(text, start))
        )
    return examples


def cloudcore_endpoints(text: str | None = None) -> list[tuple[str, str]]:
    """Every `METHOD /path` the CloudCore document lists, examples or not."""
    text = CLOUDCORE_DOC.read_text(encoding="utf-8") if text is None else text
    return list(dict.fromkeys(m.groups() for m in _ENDPOINT_LINE.finditer(text)))


def edge_examples(text: str | None = None) -> list[Example]:
    text = EDGE_DOC.read_text(encoding="utf-8") if text is None else text
    blocks = list(re.finditer(r"^```(\w*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL))
    sections = [m.start() for m in re.finditer(r"^## ", text, re.MULTILINE)] + [len(text)]
    examples: list[Example] = []
    for index, block in enumerate(blocks):
        endpoint = _ENDPOINT_LINE.fullmatch(block.group(2).strip())
        if endpoint is None:
            continue
        stop = min(s for s in sections if s > block.start())
        body = response = None
        for later in blocks[index + 1 :]:
            if later.start() > stop or _ENDPOINT_LINE.fullmatch(later.group(2).strip()):
                break
            label = text[: later.start()].rstrip().rsplit("\n", 1)[-1]
            if "Request Body" in label:
                body = json.loads(later.group(2))
            elif "Response" in label:
                response = json.loads(later.group(2))
        method, path = endpoint.groups()
        examples.append(
            Example(
                "edge", method, "/api/v1" + path, {}, body, response, _line_of(text, block.start())
            )
        )
    return examples


def json_type(value: Any) -> str:
    """The JSON type of a parsed value; integers and fractions apart, as clients see them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_mismatches(expected: Any, actual: Any, *, where: str = "") -> list[str]:
    """Every field of `expected` missing from `actual` or of another JSON type.

    A document's integer must be an integer; its fraction may be any number. Arrays are
    compared item by item against the document's first item (its items share a shape);
    an empty answer array has nothing to compare.
    """
    want, got = json_type(expected), json_type(actual)
    if want != got and not (want == "number" and got == "integer"):
        return [f"{where or '$'}: {want} in the document, {got} in the answer"]
    problems: list[str] = []
    if want == "object":
        for key, value in expected.items():
            path = f"{where}.{key}" if where else key
            if key not in actual:
                problems.append(f"{path}: missing")
            else:
                problems += shape_mismatches(value, actual[key], where=path)
    elif want == "array" and expected:
        for i, item in enumerate(actual):
            problems += shape_mismatches(expected[0], item, where=f"{where}[{i}]")
    return problems
