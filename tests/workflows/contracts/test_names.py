"""Names, label values and hosts in the shared contracts: whole-string matches only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from workflows.contracts.common import DeviceId, KnownNodeName, NodeName, PrintableText
from workflows.contracts.join import BatchId
from workflows.contracts.workloads import Image, LabelKey, LabelValue, Quantity

TRAILING_NEWLINE = [
    (NodeName, "edge-node-1\n"),
    (KnownNodeName, "edge-node-1\n"),
    (DeviceId, "camera-1\n"),
    (BatchId, "b-1\n"),
    (LabelKey, "zone\n"),
    (LabelValue, "north\n"),
    (Quantity, "100m\n"),
    (Image, "nginx:1.27\n"),
]


@pytest.mark.parametrize(("kind", "value"), TRAILING_NEWLINE)
def test_a_trailing_newline_is_refused(kind: Any, value: str) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(kind)
    assert adapter.validate_python(value.rstrip("\n")) == value.rstrip("\n")
    with pytest.raises(ValidationError):
        adapter.validate_python(value)


def test_node_names_fit_a_label_value() -> None:
    adapter: TypeAdapter[str] = TypeAdapter(NodeName)
    longest = "n" * 63
    assert adapter.validate_python(longest) == longest
    with pytest.raises(ValidationError, match="63"):
        adapter.validate_python("n" * 64)
    with pytest.raises(ValidationError):
        adapter.validate_python("edge." + "n" * 60)
    # A device already in the inventory may have a longer name; removing it must work.
    assert TypeAdapter(KnownNodeName).validate_python("n" * 64) == "n" * 64


@pytest.mark.parametrize("value", ["ci\x00key", "line\nbreak", "tab\there", "rtl\u202eoverride"])
def test_printable_text_refuses_control_characters(value: str) -> None:
    with pytest.raises(ValidationError, match="control"):
        TypeAdapter(PrintableText).validate_python(value)
    assert TypeAdapter(PrintableText).validate_python("Nightly CI, zone A") == "Nightly CI, zone A"
