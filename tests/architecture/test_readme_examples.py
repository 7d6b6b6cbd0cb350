"""The README's code blocks run as written (issue 20, Build 1; issue 27, Build 11): a page of
your own with its template, a script outside any request, a webhook handler, an App Extension,
signal receivers (docs/building.md) against a real Redis and the simulator over HTTP; the
README's kit tests pass with pytest in a project made of the README's `myapp`; the scaffold's
layout and Procfile are what `bcapp new` writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bcapp import signals
from bcapp.scopes import ScopeSet
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.helpers import DEFAULT_SCOPE, install, signed
from tests.servers import REPO, environment_for

ORDERS_SCOPE = DEFAULT_SCOPE + " store_v2_orders_read_only"


README_LINES_AT_MOST = 400  # a guide; the reference lives in docs/
RECEIVERS_DOC = "docs/building.md"  # the signal receivers' block, beside the signals' table


def readme_blocks(doc: str = "README.md") -> list[tuple[str, str]]:
    """Every fenced block of `doc`: (language, text)."""
    text = (REPO / doc).read_text()
    return re.findall(r"```(\w*)\n(.*?)```", text, re.S)


def block(language: str, first_line: str, doc: str = "README.md") -> str:
    """The block of `language` in `doc` whose first line starts with `first_line`."""
    found = [text for lang, text in readme_blocks(doc) if lang == language]
    chosen = [text for text in found if text.startswith(first_line)]
    assert len(chosen) == 1, f"{doc} has one {language} block starting {first_line!r}"
    return chosen[0]


def with_body(code: str, body: str) -> str:
    """`code` with its one `...` placeholder line replaced by `body`, at the same indent."""
    replaced, count = re.subn(r"^( +)\.\.\.$", lambda m: m.group(1) + body, code, flags=re.M)
    assert count == 1, "the block has one `...` line to fill"
    return replaced


# The first line of every block the README has, and the test that runs it.
RUN_BY = {
    "make run    #": "tests/e2e/test_readme_on_make_run.py",
    "  Open http://localhost:8001/": "tests/e2e/test_readme_on_make_run.py (make run's banner)",
    "python3 -m venv .venv": "tests/test_new_project.py (a new virtualenv, bcapp new, pytest)",
    "shop/__init__.py": "test_the_scaffold_layout_is_what_bcapp_new_writes",
    "# myapp/__init__.py": "test_the_kit_tests_pass_against_the_readme_app",
    "# myapp/views.py": "test_the_page_of_your_own_runs_as_written",
    "<!-- myapp/templates/orders.html -->": "test_the_page_of_your_own_runs_as_written",
    "# myapp/events.py": "test_the_webhook_handler_runs_as_written",
    "# myapp/extensions.py": "test_the_extension_declaration_runs_as_written",
    "# myapp/catalog.py": "test_the_script_outside_a_request_runs_as_written",
    "# myapp/billing.py": "tests/architecture/test_readme_billing.py",
    "# test_myapp.py": "test_the_kit_tests_pass_against_the_readme_app",
    "web: gunicorn -c python:bcapp.gunicorn": "test_the_procfile_is_what_bcapp_new_writes",
}


def test_the_readme_is_a_guide_whose_every_block_is_run() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES_AT_MOST
    for _, text in readme_blocks():
        assert any(text.startswith(first) for first in RUN_BY), f"no test runs {text[:40]!r}"
    for gone in ("REQUIRED_SCOPES_DECLARATION", "SCOPE_REASONS", "EXAMPLE_ONLY_SCOPES"):
        assert gone not in readme, f"{gone} no longer exists"


def test_the_scaffold_layout_is_what_bcapp_new_writes(tmp_path: Path) -> None:
    from bcapp.cli.new import write_project

    written = write_project(tmp_path / "shop", "shop")
    names = {path.relative_to(tmp_path).as_posix() for path in written}
    listed = [line.split()[0] for line in block("", "shop/__init__.py").splitlines()]
    for entry in listed:
        if entry.endswith(","):  # a line naming several top-level files
            continue
        assert any(name.startswith(f"shop/{entry}") for name in names), entry
    for entry in ("Procfile", "pyproject.toml", "README.md", ".env", ".env.example"):
        assert f"shop/{entry}" in names
    assert "shop/shop/templates/shop/home.html" in names


def test_the_procfile_is_what_bcapp_new_writes(tmp_path: Path) -> None:
    from bcapp.cli.new import write_project

    write_project(tmp_path / "shop", "shop")
    procfile = block("", "web: gunicorn -c python:bcapp.gunicorn")
    assert procfile == (tmp_path / "shop" / "Procfile").read_text()


@pytest.fixture
def myapp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty `myapp` package on the import path, as the README's blocks name it."""
    package = tmp_path / "myapp"
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".")[0] == "myapp"]:
        monkeypatch.delitem(sys.modules, name)
    yield package
    for name in [name for name in sys.modules if name.split(".")[0] == "myapp"]:
        del sys.modules[name]


def test_the_page_of_your_own_runs_as_written(
    myapp: Path, make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    (myapp / "views.py").write_text(block("python", "# myapp/views.py"))
    template = block("html", "<!-- myapp/templates/orders.html -->")
    (myapp / "templates" / "orders.html").write_text(template.split("\n", 1)[1])
    app = make_app(
        blueprints=("myapp.views:bp",), required_scopes=ScopeSet.parse(ORDERS_SCOPE)
    )
    client = app.test_client()
    assert install(client, sim, scope=ORDERS_SCOPE).status_code == 302
    page = client.get("/orders")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert "Orders of abc123" in html and "#101" in html and "Shipped" in html
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce is not None and f'<style nonce="{nonce.group(1)}">.total' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    exported = client.post("/orders/export", data={"csrf_token": token.group(1)})
    assert exported.status_code == 302 and exported.headers["Location"] == "/orders"


def test_the_script_outside_a_request_runs_as_written(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's `myapp/catalog.py`: `bcapp.connect()` without Flask reads every product of
    every installed store, page after page."""
    install(make_app().test_client(), sim)
    for name, value in environment_for(settings).items():
        monkeypatch.setenv(name, value)
    visited: list[str] = []
    code = with_body(block("python", "# myapp/catalog.py"), "visited.append(product['name'])")
    namespace: dict[str, Any] = {"visited": visited, "__name__": "readme_catalog"}
    exec(compile(code, "README.md (catalog)", "exec"), namespace)  # noqa: S102 - the README's own
    namespace["report"]()
    assert len(visited) == 23, "every product of the installed store, page after page"


def test_the_receivers_run_as_written(
    myapp: Path, make_app: Callable[..., Flask], sim: SimulatorState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (myapp / "receivers.py").write_text(block("python", "# myapp/receivers.py", RECEIVERS_DOC))
    import myapp.receivers as receivers  # type: ignore[import-not-found]

    try:
        app = make_app(receiver_modules=("myapp.receivers",))
        client = app.test_client()
        assert install(client, sim).status_code == 302
        client.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed()}")
    finally:
        signals.app_installed.disconnect(receivers.welcome)
        signals.app_uninstalled.disconnect(receivers.pause)
        signals.installation_purged.disconnect(receivers.forget)
    heard = [r.getMessage() for r in caplog.records if r.name == "myapp.receivers"]
    assert heard == ["welcome owner@example.com to abc123", "pause abc123"]


def write_readme_app(root: Path) -> Path:
    """The README's `myapp` package under `root`, every module as the README writes it."""
    package = root / "myapp"
    (package / "templates").mkdir(parents=True)
    for module in ("__init__", "views", "events", "extensions", "catalog"):
        (package / f"{module}.py").write_text(block("python", f"# myapp/{module}.py"))
    template = block("html", "<!-- myapp/templates/orders.html -->")
    (package / "templates" / "orders.html").write_text(template.split("\n", 1)[1])
    return package


def test_the_kit_tests_pass_against_the_readme_app(tmp_path: Path) -> None:
    """The README's `test_myapp.py`, run by pytest as a developer runs it (a process of
    its own, bcapp's kit found through its pytest11 entry point, BCAPP_APP in `.env`), against
    the README's `myapp`: one test of each kind passes."""
    project = tmp_path / "project"
    write_readme_app(project)
    (project / "tests").mkdir()
    (project / "tests" / "test_myapp.py").write_text(block("python", "# test_myapp.py"))
    (project / ".env").write_text("BCAPP_APP=myapp:create_app\n")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("BC", "PYTEST", "COV_", "APP_URL", "SECRET_KEY", "TOKEN_"))}
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-W", "error", "tests"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "4 passed" in ran.stdout, ran.stdout


def test_the_webhook_handler_runs_as_written(
    myapp: Path, make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    """The README's `myapp/events.py`: a worker runs it on a delivered order event and it
    writes the order's staff notes through the store API."""
    from tests.conftest import service_of
    from tests.test_webhook_intake import deliver, order_event
    from tests.workers import running_worker, wait_until

    (myapp / "events.py").write_text(block("python", "# myapp/events.py"))
    scope = DEFAULT_SCOPE + " store_v2_orders"
    app = make_app(receiver_modules=("myapp.events",), required_scopes=ScopeSet.parse(scope))
    client = app.test_client()
    assert install(client, sim, scope=scope).status_code == 302
    order = {"id": 250, "status": "Awaiting Fulfillment", "staff_notes": ""}
    sim.stores["abc123"].orders.append(order)  # what "Create an order" makes
    event_hash = "e" * 40
    with running_worker(service_of(app)):
        assert deliver(client, *order_event(event_hash=event_hash)).json == {"status": "queued"}
        wait_until(lambda: order["staff_notes"] == "seen by my app", what="the handler's write")
    assert order == {"id": 250, "status": "Awaiting Fulfillment", "staff_notes": "seen by my app"}


def test_the_extension_declaration_runs_as_written(
    myapp: Path, make_service: Callable[..., Any], sim: SimulatorState
) -> None:
    """The README's `myapp/extensions.py`: importing it declares the extension, its scope joins
    the required ones, and the post-install task registers it on the store."""
    from bcapp import extensions
    from bcapp.scopes import required_scopes
    from tests.service.test_lifecycle import install as install_through_the_service
    from tests.workers import running_worker, wait_until

    (myapp / "extensions.py").write_text(block("python", "# myapp/extensions.py"))
    service = make_service(receiver_modules=("myapp.extensions",))
    import myapp.extensions  # type: ignore[import-not-found]

    [declared] = extensions.declared()
    assert (declared.model, declared.url) == ("ORDERS", "/orders/${id}/labels")
    assert extensions.SCOPE in required_scopes().names, "declaring one requires its scope"
    granted = f"{DEFAULT_SCOPE} {extensions.SCOPE}"  # without it the simulator answers 403
    with running_worker(service):
        install_through_the_service(service, sim, scope=granted)
        wait_until(lambda: sim.stores["abc123"].app_extensions, what="the registration")
    [registered] = sim.stores["abc123"].app_extensions
    assert registered["label"] == {
        "defaultValue": "Print labels",
        "locales": [{"value": "Imprimer les étiquettes", "localeCode": "fr-FR"}],
    }
