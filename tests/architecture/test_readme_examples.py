"""The README's Python blocks run as written (issue 20, Build 1): a page of your own with its
template, a worker, and signal receivers, against a real Redis and the simulator over HTTP."""

from __future__ import annotations

import re
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


def readme_blocks() -> list[tuple[str, str]]:
    """Every fenced block of the README: (language, text)."""
    text = (REPO / "README.md").read_text()
    return re.findall(r"```(\w*)\n(.*?)```", text, re.S)


def block(language: str, first_line: str) -> str:
    """The README block of `language` whose first line starts with `first_line`."""
    found = [text for lang, text in readme_blocks() if lang == language]
    chosen = [text for text in found if text.startswith(first_line)]
    assert len(chosen) == 1, f"the README has one {language} block starting {first_line!r}"
    return chosen[0]


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


def test_the_worker_runs_as_written(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(make_app().test_client(), sim)
    for name, value in environment_for(settings).items():
        monkeypatch.setenv(name, value)
    visited: list[str] = []
    code = block("python", "import bcapp\nfrom bcapp import signals\n\nwith bcapp.connect()")
    code = code.replace("            ...", "            visited.append(product['name'])", 1)
    namespace: dict[str, Any] = {"visited": visited}
    exec(compile(code, "README.md (worker)", "exec"), namespace)  # noqa: S102 - the README's own
    signals.app_uninstalled.disconnect(namespace["pause"])
    assert len(visited) == 23, "every product of the installed store, page after page"


def test_the_receivers_run_as_written(
    myapp: Path, make_app: Callable[..., Flask], sim: SimulatorState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (myapp / "receivers.py").write_text(block("python", "# myapp/receivers.py"))
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


def test_your_own_flask_app_runs_as_written(
    sim: SimulatorState, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment_for(settings).items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"__name__": "myapp"}
    code = block("python", "# myapp.py")
    exec(compile(code, "README.md (own app)", "exec"), namespace)  # noqa: S102 - the README's own
    app: Flask = namespace["app"]
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/orders/summary").status_code == 401, "behind app_page"
    assert install(client, sim).status_code == 302
    assert client.get("/orders/summary").get_data(as_text=True) == (
        "Store abc123: hello owner@example.com"
    )
    app.extensions["bcapp"].close()


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
