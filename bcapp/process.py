"""Process-wide set-up, done by the entry points (wsgi.py, the CLI), never at import.

Library modules of bcapp configure no root logger and no warning filter; a host application
that embeds bcapp keeps its own.
"""

from __future__ import annotations

import logging
import os
import warnings

from jwt.warnings import InsecureKeyLengthWarning

from bcapp.logs import formatter_for


class _NoRequestId(logging.Filter):
    """Gives records outside a request the `request_id` "-" the format expects."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate and keep every record."""
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


def configure_process(
    request_filter: logging.Filter | None = None, log_format: str | None = None
) -> None:
    """bcapp's INFO lines to stderr (unless logging is set up), in LOG_FORMAT, and warnings.

    The HMAC key of callback payloads is the client secret BigCommerce issues; its length is
    not the app's to choose, so PyJWT's short-key warning is silenced for the process.
    """
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    logging.getLogger("bcapp").setLevel(logging.INFO)
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter_for(log_format or os.environ.get("LOG_FORMAT", "text")))
    handler.addFilter(request_filter or _NoRequestId())
    root.addHandler(handler)
