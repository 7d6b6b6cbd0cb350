"""Log lines: text (the default) or one JSON object per line (`LOG_FORMAT=json`), redacted.

JSON lines carry `time`, `level`, `logger`, `message`, `request_id`, and where known `route`,
`status`, `duration`, `store_hash` and `user_id`, and `trace_id` and `span_id` when a span is
active (traces on: bcapp/tracing, docs/tracing.md). Whatever the format, a redaction pass is the
safety net under bcapp's rule that no log line holds a token, a code, a secret or a signed
payload (docs/security.md R7): anything shaped like one is replaced by `[redacted]`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from bcapp import tracing

TEXT_FORMAT = "%(asctime)sZ %(levelname)s %(name)s [%(request_id)s] %(message)s"
REDACTED = "[redacted]"
_SECRET_SHAPES = (
    # A JWS (signed_payload_jwt), or the legacy two-part signed_payload.
    re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"[A-Za-z0-9+/]{20,}={0,2}\.[A-Za-z0-9+/]{20,}={0,2}"),
    # name=value pairs that carry secrets, in a query string or a message.
    re.compile(
        r"(?i)((?:code|signed_payload(?:_jwt)?|access_token|client_secret|token|password)=)"
        r"[^&\s\"']+"
    ),
    # Long opaque tokens (access tokens, secrets); ids bcapp logs are far shorter.
    re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])"),
)
_STORE = re.compile(r"[a-z0-9]{1,32}")
_USER = re.compile(r"[0-9]{1,16}")
_FIELDS = ("route", "status", "duration")
# A %-style conversion in a log call's format string ("%%" is a literal percent sign).
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[a-zA-Z%]")


def redact(text: str) -> str:
    """`text` with anything shaped like a token, code, secret or signed payload replaced."""
    for shape in _SECRET_SHAPES:
        text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The text format, UTC times, redacted."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        """The formatted line, redacted."""
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        message = redact(record.getMessage())
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "request_id": getattr(record, "request_id", None),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        named = named_arguments(record)
        store, user = named.get("store"), named.get("user")
        if store is not None and _STORE.fullmatch(store):
            line["store_hash"] = store
        if user is not None and _USER.fullmatch(user):
            line["user_id"] = int(user)
        ids = tracing.ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        if record.exc_info:
            line["traceback"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=True)


def named_arguments(record: logging.LogRecord) -> dict[str, str]:
    """The arguments bcapp's code passed as `store=%s` and `user=%s` in the format string.

    Taken from the call, never from the formatted text: an argument holding a request's path
    (`/x/store=victim42`) cannot name a store (L7 of the third review).
    """
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple):
        return {}
    found: dict[str, str] = {}
    position = 0
    for conversion in _CONVERSION.finditer(record.msg):
        if conversion.group() == "%%":
            continue
        before = record.msg[: conversion.start()]
        for name in ("store", "user"):
            if before.endswith(name + "=") and position < len(record.args):
                found.setdefault(name, str(record.args[position]))
        position += 1
    return found


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT (`text` or `json`)."""
    return JsonFormatter() if log_format == "json" else RedactingFormatter()
