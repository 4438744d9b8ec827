"""Numbers as the documents write them: a whole number is an integer in JSON.

Timeouts and hours are floats inside (a caller may ask for 1.5 hours), but the CloudCore
document shows `expected_response_timeout: 30` and `token_expiry: 72`; a client that
checks for an integer, or prints the value, should not get `30.0`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import PlainSerializer


def whole_if_integral(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# Validates as a float; serialises 30.0 as 30 and 1.5 as 1.5.
Number = Annotated[float, PlainSerializer(whole_if_integral, return_type=int | float)]
