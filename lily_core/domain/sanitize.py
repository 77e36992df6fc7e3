"""What every webhook parser does with what a provider sent before it reaches a use case:
text made storable, identifiers checked against the width that keeps them, JSON bodies read
without letting a hostile document crash the reader.

Two characters can be in a Python string but not in Lily's storage: NUL (PostgreSQL refuses
it in text) and a lone surrogate (no UTF-8 encoding exists for it; JSON's "\\ud800" makes
one). Free text loses the first and has the second replaced; it is never refused for them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lily_core.errors import InvalidInput

__all__ = ["MAX_JSON_DEPTH", "clean_text", "load_json", "require_id"]

# Deeper than any provider's payload (Cal.com's and Chatwoot's are under ten levels), and
# shallow enough that walking a document never nears Python's recursion limit.
MAX_JSON_DEPTH = 32
# In a Python string every code point in this range is a lone surrogate: a valid pair read
# from JSON becomes the one character it encodes.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str, limit: int | None = None) -> str:
    """`value` with NULs removed and lone surrogates replaced by U+FFFD, then cut to `limit`
    characters if one is given (free text longer than its column is clipped, not refused)."""
    if "\x00" in value or not value.isascii():
        value = _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    return value if limit is None else value[:limit]


def require_id(value: str, *, field: str, limit: int) -> str:
    """`value`, a provider's identifier for something; InvalidInput naming `field` if it is
    empty or longer than `limit`, the width of the column that keeps it. An identifier is
    never clipped: cut short, it would name something else."""
    if not value:
        raise InvalidInput("is required", field=field)
    if len(value) > limit:
        raise InvalidInput(f"is longer than {limit} characters", field=field)
    return value


def load_json(body: bytes) -> Any:
    """The JSON document in `body`, every string in it (keys too) passed through clean_text.
    InvalidInput (field "body") if it is not JSON, is nested deeper than MAX_JSON_DEPTH or
    holds an integer too long for Python to read (over 4,300 digits)."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise InvalidInput("the body is nested too deeply", field="body") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise InvalidInput(f"the body is not JSON ({exc})", field="body") from None
    return _cleaned(document, 0)


def _cleaned(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, dict | list):
        return value
    if depth >= MAX_JSON_DEPTH:
        raise InvalidInput(f"the body is nested deeper than {MAX_JSON_DEPTH} levels", field="body")
    if isinstance(value, list):
        return [_cleaned(item, depth + 1) for item in value]
    return {clean_text(key): _cleaned(item, depth + 1) for key, item in value.items()}
