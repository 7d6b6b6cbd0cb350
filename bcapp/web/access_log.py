"""gunicorn's access log with every logged value made printable.

gunicorn logs the percent-*decoded* path (`%(U)s`), so `GET /healthz%0a203.0.113.9 …` would
write a second, forged log line. This logger escapes control characters in every atom before
formatting (docs/security.md R7). `gunicorn.conf.py` names it as `logger_class`.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from bcapp.validation import printable


class SafeAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's Logger, with control characters escaped in access-log values."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """gunicorn's atoms, each string value escaped."""
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {
            name: printable(value) if isinstance(value, str) else value
            for name, value in found.items()
        }
