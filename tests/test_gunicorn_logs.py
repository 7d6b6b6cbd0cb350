"""gunicorn's access log cannot be forged through a request path (docs/security.md R7)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bcapp.settings import Settings
from tests.servers import environment_for, gunicorn

pytestmark = pytest.mark.slow
FORGED = '203.0.113.9 [29/Nov/2026:04:00:00 +0000] "GET /bigcommerce/uninstall HTTP/1.1" 200'


def raw_get(url: str, target: str) -> bytes:
    """Send one request line exactly as given (no client-side normalisation)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as conn:
        head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_a_decoded_line_break_in_a_path_cannot_forge_an_access_log_line(
    settings: Settings, tmp_path: Path
) -> None:
    log_path = tmp_path / "gunicorn.log"
    injected = "/healthz%0a" + FORGED.replace(" ", "%20").replace('"', "%22")
    with gunicorn(environment_for(settings), log_path) as url:
        answer = raw_get(url, injected)
        raw_get(url, "/healthz%1b]0;owned%07")
    assert answer.startswith(b"HTTP/1.1 404")
    lines = log_path.read_text().splitlines()
    assert not any(line.startswith("203.0.113.9") for line in lines), "no forged line"
    [logged] = [line for line in lines if "GET /healthz" in line and "203.0.113.9" in line]
    assert "/healthz\\n203.0.113.9" in logged
    assert "\x1b" not in log_path.read_text() and "\x07" not in log_path.read_text()
