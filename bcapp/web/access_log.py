"""gunicorn's access log with every logged value made printable.

gunicorn logs the percent-*decoded* path (`%(U)s`), so `GET /healthz%0a203.0.113.9 …` would
write a second, forged log line. This logger escapes control characters in every atom before
formatting (docs/security.md R7). bcapp/gunicorn.py names it as `logger_class`.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from bcapp.logs import JsonFormatter
from bcapp.validation import printable


class SafeAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's Logger, with control characters escaped in access-log values.

    With LOG_FORMAT=json, gunicorn's own lines and the access log are JSON objects too (the
    access log with route, status, duration and request id).
    """

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers, with bcapp's formatter on each when LOG_FORMAT=json."""
        super().setup(cfg)
        if os.environ.get("LOG_FORMAT") == "json":
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """One access line: gunicorn's format, or a JSON object with the request's fields."""
        if os.environ.get("LOG_FORMAT") != "json":
            super().access(resp, req, environ, request_time)
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            "%s %s %s",
            atoms["m"],
            atoms["U"],
            atoms["s"],
            extra={
                "route": atoms["U"],
                "status": int(str(atoms["s"]).split()[0]),
                "duration": round(request_time.total_seconds(), 6),
                "request_id": atoms.get("{x-request-id}o", "-"),
            },
        )

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """gunicorn's atoms, each string value escaped."""
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {
            name: printable(value) if isinstance(value, str) else value
            for name, value in found.items()
        }
