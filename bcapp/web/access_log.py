"""gunicorn's access log with every logged value made printable.

gunicorn logs the percent-*decoded* path (`%(U)s`), so `GET /healthz%0a203.0.113.9 …` would
write a second, forged log line. This logger escapes control characters in every atom a line
uses, as the line is formatted (docs/security.md R7): gunicorn offers some sixty atoms per
request (every header and environ entry) and a line names a few. bcapp/gunicorn.py names it as
`logger_class`.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger, SafeAtoms

from bcapp.logs import JsonFormatter
from bcapp.validation import printable


class PrintableAtoms(SafeAtoms):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's atoms (quotes escaped, unknown ones "-"), each string made printable when
    the line reads it."""

    def __getitem__(self, name: str) -> Any:
        value = super().__getitem__(name)
        return printable(value) if isinstance(value, str) else value


class SafeAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's Logger, with control characters escaped in access-log values.

    With LOG_FORMAT=json, gunicorn's own lines and the access log are JSON objects too (the
    access log with route, status, duration and request id).
    """

    atoms_wrapper_class = PrintableAtoms  # the plain format's lines

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
        found = self.atoms(resp, req, environ, request_time)
        method, route, request_id = (
            printable(str(found.get(name) or "-")) for name in ("m", "U", "{x-request-id}o")
        )
        status = str(found["s"])
        self.access_log.info(
            "%s %s %s",
            method,
            route,
            status,
            extra={
                "route": route,
                "status": int(status.split()[0]),
                "duration": round(request_time.total_seconds(), 6),
                "request_id": request_id,
            },
        )
