"""Shell completion answers from the command tree (what `--install-completion` wires up)."""

from __future__ import annotations

import pytest
from kubeedge_cloudcore.cli import main


def test_bash_completion_lists_the_matching_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_EDGEWRIGHT_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "edgewright ma")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 0
    assert capsys.readouterr().out.split() == ["maintenance"]
