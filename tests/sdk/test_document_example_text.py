"""The SDK example kept in tests/support is the document's, line for line."""

from __future__ import annotations

import pytest

from tests.support.sdk_example import EXAMPLE, FIRST_LINE
from tests.support.seed_examples import DOCUMENTS, seed_dir


def test_the_kept_example_is_the_documents() -> None:
    folder = seed_dir()
    if folder is None:
        pytest.skip("the contract documents are not on this machine")
    lines = (folder / DOCUMENTS["cloudcore"]).read_text().splitlines()
    kept = EXAMPLE.splitlines()
    assert lines[FIRST_LINE - 1 : FIRST_LINE - 1 + len(kept)] == kept
