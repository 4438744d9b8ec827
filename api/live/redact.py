"""Keep credentials given as query parameters (`?token=`, `?api_key=`) out of the logs.

uvicorn logs each request line, query string included, and each WebSocket handshake.
Parameter names are compared after percent-decoding, as the server parses them, so
`?%74oken=` is redacted like `?token=`.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

_SECRET_NAMES = frozenset({"token", "api_key"})
# One query parameter: what follows `?` or `&` up to the next `&`, blank or quote.
_PARAM = re.compile(r"(?P<lead>[?&])(?P<name>[^=&\s\"?]*)=(?P<value>[^&\s\"]*)")
LOGGERS = ("uvicorn.access", "uvicorn.error")


def _redact_param(match: re.Match[str]) -> str:
    if unquote_plus(match["name"]).strip().lower() not in _SECRET_NAMES:
        return match[0]
    return f"{match['lead']}{match['name']}=***"


def redact(text: str) -> str:
    return _PARAM.sub(_redact_param, text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())
