"""Writes `tests/support/document_examples.json` from the two contract documents.

The documents are third-party text and stay out of the repository; what the tests need
from them is data: each example's method, path, headers, body and response JSON, the
line it starts on, and every `METHOD /path` the documents list. No prose is copied.

To regenerate, with the documents in a folder (on the shared machine: /work/shared/seeds):

    .venv/bin/python -m tests.support.seed_examples --from /work/shared/seeds --write

`--write` without a path writes the checked-in file; `--check` instead exits 1 when the
checked-in file differs from what the documents give. Without `--from`, the folder is
`$EDGEWRIGHT_SEED_DOCS`, else /work/shared/seeds. tests/api/core/test_document_examples_data.py
runs the same comparison wherever that folder exists.

What is read. CloudCore (`001_…`): every `curl` command (method, URL, `-H` headers, `-d`
body) and the JSON after the next "Response" before the next curl, plus every endpoint
line (`GET /api/kubeedge/...`). Edge API (`000_…`): each fenced `METHOD /path` block, with
the JSON blocks after "Request Body" and "Response" up to the next endpoint or top-level
section; its paths get the `/api/v1` prefix the document states once. An example the
document repeats word for word is kept once, with every line it is on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.document_examples import DATA, Endpoint, Example

DOCUMENTS = {"cloudcore": "001_fed856e69615b9ba.txt", "edge": "000_bbe216ccace55f4a.txt"}
SHARED_SEEDS = Path("/work/shared/seeds")

_METHODS = "GET|POST|PUT|DELETE|PATCH"
_ENDPOINT_LINE = re.compile(rf"^({_METHODS}) (/\S+)$", re.MULTILINE)


def seed_dir() -> Path | None:
    """Where the documents are on this machine, if anywhere."""
    folder = Path(os.environ.get("EDGEWRIGHT_SEED_DOCS", SHARED_SEEDS))
    return folder if all((folder / name).is_file() for name in DOCUMENTS.values()) else None


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


def cloudcore_examples(text: str) -> list[Example]:
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
        line = _line_of(text, start)
        examples.append(Example("cloudcore", method, path, headers, body, response, (line,)))
    return examples


def cloudcore_endpoints(text: str) -> list[Endpoint]:
    """Every `METHOD /path` line of the CloudCore document, the first of each."""
    found: dict[tuple[str, str], Endpoint] = {}
    for match in _ENDPOINT_LINE.finditer(text):
        method, path = match.groups()
        line = _line_of(text, match.start())
        found.setdefault((method, path), Endpoint("cloudcore", method, path, line))
    return list(found.values())


def edge_examples(text: str) -> list[Example]:
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
        line = _line_of(text, block.start())
        examples.append(Example("edge", method, "/api/v1" + path, {}, body, response, (line,)))
    return examples


def _once(examples: list[Example]) -> list[Example]:
    """Repeats folded into the first: same request and response, every line kept."""
    kept: dict[str, Example] = {}
    for example in examples:
        key = json.dumps({**example.to_json(), "lines": None}, sort_keys=True)
        first = kept.get(key)
        kept[key] = example if first is None else replace(first, lines=first.lines + example.lines)
    return list(kept.values())


def extract(folder: Path) -> dict[str, Any]:
    """The data file's content, from the documents in `folder`."""
    texts = {doc: (folder / name).read_text(encoding="utf-8") for doc, name in DOCUMENTS.items()}
    cloudcore, edge = cloudcore_examples(texts["cloudcore"]), edge_examples(texts["edge"])
    endpoints = cloudcore_endpoints(texts["cloudcore"]) + [
        Endpoint(e.document, e.method, e.path, e.line) for e in edge
    ]
    return {
        "documents": {
            doc: {"file": DOCUMENTS[doc], "sha256": hashlib.sha256(text.encode()).hexdigest()}
            for doc, text in texts.items()
        },
        "endpoints": [e.to_json() for e in endpoints],
        "examples": [e.to_json() for e in _once(cloudcore) + _once(edge)],
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="folder of both documents")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", nargs="?", const=DATA, type=Path, help="where to write")
    action.add_argument("--check", action="store_true", help="exit 1 if the data differ")
    args = parser.parse_args(argv)
    source = args.source or seed_dir()
    if source is None:
        parser.error("no documents: pass --from or set EDGEWRIGHT_SEED_DOCS")
    text = render(extract(source))
    if args.check:
        same = DATA.read_text(encoding="utf-8") == text
        parser.exit(0 if same else 1, f"{DATA}: {'up to date' if same else 'differs'}\n")
    args.write.write_text(text, encoding="utf-8")
    parser.exit(0, f"wrote {args.write}\n")


if __name__ == "__main__":
    main()
