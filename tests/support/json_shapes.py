"""Does an answer have the shape of a document's example: every field, same JSON type."""

from __future__ import annotations

from typing import Any


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
