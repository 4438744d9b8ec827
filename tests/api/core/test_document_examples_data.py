"""The documents' examples as checked-in data (tests/support/document_examples.json):
well formed, complete, free of the documents' prose, and, where the documents are on
this machine, exactly what the generator writes from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.document_examples import DATA, examples, load
from tests.support.seed_examples import DOCUMENTS, extract, render, seed_dir

EXAMPLE_KEYS = {"document", "lines", "method", "path", "headers", "body", "response"}
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
# The longest value any example shows has 7 words ("CPU usage > 90% for 5 minutes");
# a string much longer would be prose that slipped in.
MAX_WORDS = 9

no_documents = pytest.mark.skipif(
    seed_dir() is None,
    reason="the contract documents are not on this machine (/work/shared/seeds, or set "
    "EDGEWRIGHT_SEED_DOCS to their folder): the checked-in data cannot be compared",
)


def strings(value: Any) -> Iterator[str]:
    """Every key and string value in a parsed JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_the_data_is_well_formed() -> None:
    data = load()
    assert set(data) == {"documents", "endpoints", "examples"}
    assert set(data["documents"]) == set(DOCUMENTS)
    for document, source in data["documents"].items():
        assert source["file"] == DOCUMENTS[document]
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    for item in data["examples"] + data["endpoints"]:
        assert item["document"] in DOCUMENTS
        assert item["method"] in METHODS
        assert re.fullmatch(r"/\S+", item["path"]), item
    for item in data["examples"]:
        assert set(item) == EXAMPLE_KEYS, item
        assert item["lines"] == sorted(set(item["lines"])), item
        assert all(isinstance(line, int) and line > 0 for line in item["lines"]), item
        assert all(isinstance(v, str) for v in item["headers"].values()), item
        assert isinstance(item["body"], dict | None), item
        assert isinstance(item["response"], dict | None), item


def test_nothing_is_listed_twice() -> None:
    data = load()
    found = [e.to_json() | {"lines": None} for e in examples()]
    assert all(found.count(e) == 1 for e in found)
    lines = [(e.document, line) for e in examples() for line in e.lines]
    assert len(lines) == len(set(lines))
    documented = [(e["document"], e["method"], e["path"]) for e in data["endpoints"]]
    assert len(documented) == len(set(documented))


def test_the_data_holds_no_prose() -> None:
    """Only names and example values: every string is short."""
    for example in examples():
        for text in strings([example.path, example.headers, example.body, example.response]):
            assert len(text.split()) <= MAX_WORDS, f"{example.name}: {text!r}"


def test_every_example_of_both_documents_is_kept() -> None:
    """The generator missed nothing: a regression would silently shrink the replay."""
    cloudcore, edge = examples("cloudcore"), examples("edge")
    assert sum(len(e.lines) for e in cloudcore) == 29  # every curl in the document
    assert len(cloudcore) == 27  # two are repeated word for word in its last section
    assert len(edge) == 18  # every fenced METHOD /path
    command = next(e for e in cloudcore if e.path.endswith("/command") and e.response)
    assert command.body["timeout"] == 30
    assert command.response["expected_response_timeout"] == 30
    assert command.headers["Authorization"] == "Bearer <token>"
    node = next(e for e in edge if e.method == "POST" and e.path == "/api/v1/nodes")
    assert node.body["name"] == "edge-node-1"
    assert node.response["status"] == "registered"
    assert sum(e.response is not None for e in cloudcore + edge) == 36


@no_documents
def test_regenerating_from_the_documents_gives_the_same_data() -> None:
    folder = seed_dir()
    assert folder is not None
    assert render(extract(folder)) == DATA.read_text(encoding="utf-8"), (
        "the documents changed or the generator did: rerun "
        "`python -m tests.support.seed_examples --write` and review the diff"
    )


@no_documents
def test_every_string_of_the_data_is_quoted_in_the_documents() -> None:
    """A body or response string is one of the document's JSON strings, never its prose:
    with every quoted string taken out, no string of several words is left."""
    folder = seed_dir()
    assert folder is not None
    for example in examples():
        text = (folder / DOCUMENTS[example.document]).read_text(encoding="utf-8")
        unquoted = re.sub(r'"[^"\n]*"', "", text)
        for value in strings([example.body, example.response]):
            if len(value.split()) > 1:
                assert value not in unquoted, f"{example.name}: {value!r}"
