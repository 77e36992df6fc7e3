"""Log configuration: one sink on stderr, and a patcher that masks customers' phone numbers
in every record (DESIGN §6), so that no adapter or route can leak one by accident."""

from __future__ import annotations

import inspect
import json
import logging
import re
import sys
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

__all__ = ["configure_logging", "drop_phone_numbers", "mask_phone_numbers", "mask_record"]

_PLUS = r"(?:\+|%2[Bb])"  # `%2B`: a `+` URL-encoded, as in a query string or a form body
_NXX = r"[2-9]\d\d"  # a North American area code or exchange
_PHONE = re.compile(
    # E.164
    rf"{_PLUS}(?P<e164>[1-9]\d{{7,14}})(?!\d)"
    # +1 and a North American number in any usual shape
    rf"|{_PLUS}(?P<plus_nanp>1[ .-]?(?:\({_NXX}\)|{_NXX})[ .-]?{_NXX}[ .-]?\d{{4}})(?!\d)"
    # a North American number standing alone, separated consistently (not by spaces alone)
    r"|(?<![\w.+-])(?P<nanp>"
    rf"1?{_NXX}{_NXX}\d{{4}}"
    rf"|(?:1[ -]?)?\({_NXX}\) ?{_NXX}[ .-]\d{{4}}"
    rf"|(?:1[.-])?{_NXX}(?P<sep>[.-]){_NXX}(?P=sep)\d{{4}}"
    r")(?![\w]|[.-]\d)",
    re.ASCII,
)


def mask_phone_numbers(text: str) -> str:
    """`text` with every phone number in it masked as `+1214***0123`.

    A phone number is:
    - E.164: `+` (or `%2B`) then 8 to 15 digits, the first not 0, not followed by a digit;
    - `+1` then a North American number, its groups separated by spaces, dots, dashes or
      nothing: `+1 (214) 555-0123`, `+1 214 555 0123`;
    - a North American number without `+`: `2145550123`, `12145550123`, `(214) 555-0123`,
      `(214)555-0123`, `214-555-0123`, `214.555.0123`, `1-214-555-0123` (not
      `214 555 0123`: digit groups separated by spaces alone are too often a list of
      numbers). It must stand alone: not glued to a letter, digit, `_`, `.`, `+` or `-`
      before it, nor to a letter, digit, `_` or `.`/`-` and a digit after it.
    Area code and exchange start with 2-9, as NANP numbers do.
    So Twilio SIDs and hex ids (digits glued to letters), UUIDs (dash-separated groups),
    ISO timestamps and offsets (short digit runs), decimals, and Unix timestamps in seconds
    until 2033 (10 digits starting with 1, no NANP area code) are left alone.

    The mask keeps `+`, the first four digits (country code and area code of a North
    American number; fewer for numbers under 11 digits, so that at least three digits are
    always hidden) and the last four: `+1214***0123`. Masking a masked text changes nothing.
    """
    return _PHONE.sub(_mask_match, text)


def drop_phone_numbers(text: str) -> str:
    """`text` with every phone number (as mask_phone_numbers finds them) replaced by
    `[number]`: for a provider's error text that Lily stores (a message's error, a task's
    last error), where not even a masked number should rest."""
    return _PHONE.sub("[number]", text)


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group("e164") or match.group("plus_nanp") or "")
    if match.group("nanp"):
        digits = re.sub(r"\D", "", match.group("nanp"))
        if len(digits) == 10:
            digits = "1" + digits
    head = max(1, min(4, len(digits) - 7))
    return f"+{digits[:head]}***{digits[-4:]}"


def _mask_value(value: Any) -> Any:
    """Strings masked, containers rebuilt with their contents masked (never mutated: they
    may belong to the caller), numbers and None as they are, anything else as masked text."""
    if isinstance(value, str):
        return mask_phone_numbers(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {_mask_value(k): _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v) for v in value]
    return mask_phone_numbers(str(value))


def mask_record(record: Record) -> None:
    """Loguru patcher: masks phone numbers in the message and in `extra`, and moves the
    exception, if any, into `extra["exception"]` as `{"type", "message", "traceback"}`:
    plain formatted text (no local variables), masked. Loguru then has no exception object
    left to format, so no sink can print an unmasked traceback or one with variables."""
    record["message"] = mask_phone_numbers(record["message"])
    record["extra"] = {k: _mask_value(v) for k, v in record["extra"].items()}
    exc, record["exception"] = record["exception"], None
    if exc is not None and exc.type is not None and exc.value is not None:
        module, name = exc.type.__module__, exc.type.__qualname__
        record["extra"]["exception"] = {
            "type": name if module == "builtins" else f"{module}.{name}",
            "message": mask_phone_numbers(str(exc.value)),
            "traceback": mask_phone_numbers(
                "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
            ),
        }


class _InterceptHandler(logging.Handler):
    """Routes standard-library logging (uvicorn, alembic, httpx...) into loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def _json_sink(message: Message) -> None:
    record = message.record
    entry: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
        **record["extra"],
    }
    sys.stderr.write(json.dumps(entry, default=str) + "\n")


def _pretty_sink(message: Message) -> None:
    extra = dict(message.record["extra"])
    error = extra.pop("exception", None)
    line = message.rstrip("\n") + (f" {extra}" if extra else "")
    if isinstance(error, dict):
        line += "\n" + error["traceback"].rstrip("\n")
    sys.stderr.write(line + "\n")


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """One sink on stderr: a JSON object a line (`json`) or human-readable (`pretty`), with
    phone numbers masked and exceptions as plain tracebacks (see `mask_record`)."""
    logger.remove()
    logger.configure(patcher=mask_record)
    # backtrace/diagnose off: should a record still carry an exception, no variables
    sink = _json_sink if fmt == "json" else _pretty_sink
    logger.add(
        sink,
        level=level.upper(),
        format="<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}",
        colorize=fmt != "json" and sys.stderr.isatty(),
        backtrace=False,
        diagnose=False,
    )
    logging.basicConfig(handlers=[_InterceptHandler()], level=0, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
